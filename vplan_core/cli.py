"""The `vplan` console entry point.

Subcommands are entries of SUBCOMMANDS; another module adds one by defining a
Subcommand (name, help, add_arguments, run) and appending it to that list here.
User-facing errors (ValueError, OSError; data.video.VideoError and the checkpoint errors are
ValueErrors) are printed as one line without a traceback, exit code 2. Any other exception is a
bug: one line naming it, exit code 1. `vplan --debug COMMAND ...` lets every exception through,
traceback included.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vplan_core.data.annotations import load_split
from vplan_core.data.description import BUILT_IN, describe
from vplan_core.data.npy import NUMERIC, TEXT, read_npz
from vplan_core.evaluation.protocols import score_predictions

EXIT_ERROR = 2
EXIT_BUG = 1


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", type=Path, metavar="PRED.npz",
                        help="video_ids [N], audio_prob/visual_prob [N,T,C], optional video_prob [N,C]; for videos "
                             "of any length (LFAV) also lengths [N] and audio_video_prob/visual_video_prob [N,C]")
    parser.add_argument("--split", required=True, choices=("val", "test"))
    parser.add_argument("--annotations", type=Path, metavar="DIR",
                        help="the data set's annotation directory (default: $VPLAN_ANNOTATIONS)")
    parser.add_argument("--dataset", default="llp", metavar="NAME|FILE",
                        help=f"the data set's description: {', '.join(BUILT_IN)} or a description file (default: llp)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score only the split videos that have predictions")


MAX_NAME_CHARS = 256  # of a video id or file name in a prediction file
MAX_ITEM_BYTES = 16  # of a number (float128)
MAX_SEGMENTS = 8192  # of a video of any length: 2 h 16 min at LFAV's one row per second


def _load_predictions(path: Path, n_videos: int, segments: int | None, classes: int) -> dict[str, np.ndarray]:
    """The arrays evaluation reads from a predictions npz, for a split of n_videos videos: each
    member's header is checked first (at most a row per split video, rows of the expected
    shape) and other members are not read, so a small archive of huge members costs nothing.
    segments None: videos of any length (up to MAX_SEGMENTS), with their lengths and gates."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    rows = max(1, n_videos)  # evaluation refuses unknown and repeated videos
    probs = rows * (segments or MAX_SEGMENTS) * classes * MAX_ITEM_BYTES
    per_video = rows * classes * MAX_ITEM_BYTES
    return read_npz(path, {"video_ids": ((None,), TEXT, rows * 4 * MAX_NAME_CHARS),
                           "audio_prob": ((None, segments, classes), NUMERIC, probs),
                           "visual_prob": ((None, segments, classes), NUMERIC, probs),
                           "video_prob": ((None, classes), NUMERIC, per_video),
                           **({} if segments else {"lengths": ((None,), NUMERIC, rows * MAX_ITEM_BYTES),
                                                   "audio_video_prob": ((None, classes), NUMERIC, per_video),
                                                   "visual_video_prob": ((None, classes), NUMERIC, per_video)})})


def _run_evaluate(args: argparse.Namespace) -> int:
    annotations = args.annotations or os.environ.get("VPLAN_ANNOTATIONS")
    if not annotations:
        raise ValueError("no annotation directory: pass --annotations DIR "
                         "or set VPLAN_ANNOTATIONS")
    description = describe(args.dataset)
    split = load_split(annotations, args.split, description)
    pred = _load_predictions(args.predictions, len(split.filenames), description.segments, description.num_classes)
    if not description.fixed_length:
        absent = [key for key in ("video_ids", "lengths", "audio_prob", "visual_prob", "audio_video_prob",
                                  "visual_video_prob") if key not in pred]
        if absent:
            raise ValueError(f"{args.predictions}: {description.name}'s protocol reads {', '.join(absent)}, "
                             "which this file lacks")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = score_predictions(pred, split, description, allow_missing=args.allow_missing)
        except ValueError as exc:
            raise ValueError(f"{args.predictions}: {exc}") from None
    for warning in caught:
        print(f"vplan evaluate: warning: {args.predictions}: {warning.message}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0


def _add_parse_arguments(parser: argparse.ArgumentParser) -> None:
    from vplan_core import parse  # torch and the extractors: imported only for `vplan parse`

    parse.add_arguments(parser)


def _run_parse(args: argparse.Namespace) -> int:
    from vplan_core import parse

    return parse.run(args)


SUBCOMMANDS: list[Subcommand] = [
    Subcommand("evaluate", "the ten AVVP numbers of a predictions npz, as JSON",
               _add_evaluate_arguments, _run_evaluate),
    Subcommand("parse", "audio, visual and audio-visual events of one video (JSON + PNG timeline) "
               "from a trained parser checkpoint (any family)", _add_parse_arguments, _run_parse),
]


def build_parser(subcommands: Sequence[Subcommand] = SUBCOMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vplan")
    parser.add_argument("--debug", action="store_true",
                        help="let errors through with their traceback instead of a one-line message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in subcommands:
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"vplan {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if args.debug:
            raise
        print(f"vplan {args.command}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(a bug; `vplan --debug` shows the traceback)", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
