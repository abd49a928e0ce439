"""`vplan parse VIDEO --checkpoint MODEL --config CONFIG`: audio-visual events of one clip.

The features the checkpoint's model was trained on (its record of models.<name>.inputs; the HAN
features for checkpoints without one) are extracted with the extractor settings of CONFIG (the
workflow's config: weights, backbone, frame size, PCA, sampling), the trained parser (any
family) scores them, and the result is
written as JSON events plus a PNG timeline. Paths in CONFIG are read relative to the current
directory (run it where the workflow ran, e.g. the repository root for the demo).

Clips of any length: the video is cut into consecutive 10-s windows [10w, 10w + 10),
w = 0 .. n-1 with n = max(1, ceil((duration - SLACK_S) / 10)); each window is sampled exactly
like an LLP clip (80 frames at 8 fps, one VGGish example a second). Up to SLACK_S (0.5 s) past a
multiple of 10 s is container rounding, not content (a real LLP clip is 10.03 s long): it is
dropped, and no event starts in it. A longer remainder gets a last window, padded: frame times
past the end show the last frame and missing audio is silence. Segments (1 s) that start at or
after the end of the video are dropped, and the last event's offset is clipped to the duration.
Windows are extracted and scored a minute at a time (WINDOWS_PER_PASS), and each window's audio
is decoded from just before it (data/video.py sample_audio), so time grows linearly and peak
memory stays flat with the video's length (bench/bench_long_video.py).

Decisions follow the evaluation (metric.md §3): a segment is on when its probability is >= 0.5
and the window's video-level probability of that class is >= 0.5. audio-visual = audio and
visual on in the same segment. Events are runs of consecutive "on" segments of one class and
modality; onset/offset are seconds of the whole video; confidence is the mean probability over
the event's segments (for audio-visual, of min(audio, visual)).

Inputs are checked before any feature is extracted: the output folder first (it, or the folder
it would be made in, must be a writable folder), then the video is probed (data/video.py: a
missing, empty, unreadable or truncated file, a folder, or one without a video stream, is a
VideoError naming it; so is audio that leaves more than 10 - sampling.min_audio_s seconds of any
window's video silent, data/video.py check_audio),
the checkpoint is read (training/checkpoints.py: a file that is no vplan model, an unknown family
or weights that do not fit are named errors; so is a feature the model read that CONFIG has no
extractor settings for), the extractors load their weight files and their
feature sizes must be the model's. A VALOR++ model reads CLAP's feature maps of each window
(features.clap_maps, VALOR's get_audio_feature_maps), also when it was trained on VALOR's
release. A video without an audio stream is an error, "no audio stream", not silence: the workflow records such videos as skipped for the audio features too
(data/manifest.py, features/extract.py), so no parser was trained on made-up audio. A model whose
outputs are not finite (NaN weights) is refused, not read as "no events". The outputs replace
earlier ones of the same stem atomically (a reader sees the old file or the new one), and the
printed summary lists the ones it replaced.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np

from vplan_core.data.description import LLP
from vplan_core.evaluation.metrics import binarize
from vplan_core.plan import extraction_settings

# torch, the extractors and PyAV are imported where used: `vplan --help` stays fast.

WINDOW_S = 10
SLACK_S = 0.5  # LLP's 10-s clips last 10.0-10.1 s in their containers
WINDOWS_PER_PASS = 6  # one minute of video extracted and scored at a time
MODALITIES = ("audio", "visual", "audio-visual")


def window_count(duration_s: float) -> int:
    return max(1, math.ceil((duration_s - SLACK_S) / WINDOW_S - 1e-6))


def build_extractors(config: dict, inputs: dict[str, str], device: str = "cpu") -> dict:
    """The extractor of each parser input (dataset.Features field -> Extractor) of the features
    `inputs` names (the checkpoint's), weights loaded: all of them before any extraction, so a
    missing weight file fails in seconds."""
    from vplan_core.features.extract import build_extractor

    return {role: build_extractor(feature, extraction_settings(config, feature), device)
            for role, feature in inputs.items()}


def check_extractable(config: dict, inputs: dict[str, str], checkpoint: str | Path, config_path: str | Path) -> None:
    """Each feature the model read has its extractor's settings in the config (features.<name>):
    a model trained on released files (VALOR's CLAP maps) needs the checkpoint that makes them."""
    unset = [f"the model's {role} is {feature!r}, extracted with features.{feature}, which config {config_path} "
             "does not set" for role, feature in inputs.items() if not config["features"].get(feature)]
    if unset:
        raise ValueError(f"checkpoint {checkpoint}: " + "; ".join(unset))


def window_probabilities(video: str | Path, extractors: dict, model, n_windows: int, device: str = "cpu",
                         per_pass: int = WINDOWS_PER_PASS) -> dict[str, np.ndarray]:
    """The parser's probabilities of each 10-s window (video_prob [n, C], audio_prob and
    visual_prob [n, 10, C]), `per_pass` windows at a time: features are extracted, scored and
    dropped, so peak memory does not grow with the video's length."""
    import torch

    from vplan_core.data.dataset import Features
    from vplan_core.features.extractor import windows_features
    from vplan_core.training.prediction import predict

    parts = []
    for first in range(0, n_windows, per_pass):
        windows = range(first, min(first + per_pass, n_windows))
        per_window = [windows_features(extractors, video, w * WINDOW_S) for w in windows]  # one decode a window
        arrays = {name: np.stack([window[name] for window in per_window]).astype(np.float32) for name in extractors}
        with torch.inference_mode():
            parts.append(predict(model, Features(video_ids=[f"window_{w}" for w in windows], **arrays), device=device))
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _check_dims(model, extractors: dict, checkpoint: str | Path, config_path: str | Path) -> None:
    """The model's input sizes against the extractors' feature sizes, before extracting."""
    kwargs = model.init_kwargs
    got = {f"{name}_dim": extractor.per_video_shape()[-1] for name, extractor in extractors.items()}
    wrong = {k: (kwargs[k], v) for k, v in got.items() if k in kwargs and kwargs[k] != v}
    if wrong:
        details = ", ".join(f"{k}: model {m}, features {f}" for k, (m, f) in wrong.items())
        raise ValueError(f"checkpoint {checkpoint} was trained on other features than config "
                         f"{config_path} extracts ({details}); use the config the model was trained with")


def check_out_dir(out_dir: Path) -> None:
    """The output folder, before any work: an existing folder we may write in, or a path whose
    nearest existing parent is one (it is made when the outputs are written)."""
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise ValueError(f"output folder {out_dir}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {out_dir}: {existing} is not writable")


def check_audio_windows(video: Path, info, n_windows: int, min_audio_s: float) -> None:
    """Each window's audio must cover its video as an LLP clip's must (data/video.py check_audio):
    a track that ends early or starts late is refused, not parsed as silence."""
    from vplan_core.data.video import VideoError, check_audio

    for w in range(n_windows):
        problem = check_audio(info, w * WINDOW_S, WINDOW_S, min_audio_s)
        if problem:
            raise VideoError(video, *problem.split(": ", 1))


def check_finite(pred: dict[str, np.ndarray], checkpoint: str | Path, video: Path) -> None:
    """A model that outputs NaN or infinity (damaged weights) has no events to report."""
    bad = [name for name, array in pred.items() if not np.isfinite(array).all()]
    if bad:
        raise ValueError(f"checkpoint {checkpoint}: the model's outputs on {video} are not finite "
                         f"({', '.join(bad)} hold NaN or infinity): its weights are damaged")


def events_from_probs(audio_prob: np.ndarray, visual_prob: np.ndarray, video_prob: np.ndarray,
                      duration_s: float) -> list[dict]:
    """Windows [n,10,C] -> events over the whole video (see the module docstring)."""
    so_a, so_v = binarize(audio_prob, visual_prob, video_prob)
    n_seg = min(audio_prob.shape[0] * audio_prob.shape[1], max(1, math.ceil(duration_s - 1e-6)))
    flat = lambda a: a.reshape(-1, a.shape[-1])[:n_seg]  # noqa: E731
    on = {"audio": flat(so_a), "visual": flat(so_v)}
    on["audio-visual"] = on["audio"] & on["visual"]
    prob = {"audio": flat(audio_prob), "visual": flat(visual_prob)}
    prob["audio-visual"] = np.minimum(prob["audio"], prob["visual"])
    events = []
    for modality in MODALITIES:
        for c, name in enumerate(LLP.classes):
            column = np.concatenate([[0], on[modality][:, c].astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(column))
            for start, end in zip(edges[::2], edges[1::2]):
                events.append({"modality": modality, "class": name, "onset": float(start),
                               "offset": round(float(min(end, duration_s)), 3),  # ms: container durations carry float noise
                               "confidence": round(float(prob[modality][start:end, c].mean()), 4)})
    events.sort(key=lambda e: (e["onset"], MODALITIES.index(e["modality"]), e["class"]))
    return events


TIMELINE_COLOURS = {"audio": "tab:blue", "visual": "tab:orange", "audio-visual": "tab:green"}


def timeline_figure(events: list[dict], duration_s: float, title: str):
    """The timeline of `events`: a row per class, one bar colour per modality (opacity: confidence),
    and a legend of those colours right of the axes, off the bars."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    classes = sorted({e["class"] for e in events}, key=LLP.classes.index)
    offsets = {"audio": -0.27, "visual": 0.0, "audio-visual": 0.27}
    fig = Figure(figsize=(10, 1.2 + 0.5 * max(1, len(classes))))
    ax = fig.subplots()
    for e in events:
        y = classes.index(e["class"]) + offsets[e["modality"]]
        ax.barh(y, e["offset"] - e["onset"], left=e["onset"], height=0.25, color=TIMELINE_COLOURS[e["modality"]],
                alpha=0.35 + 0.65 * e["confidence"])
    ax.set_yticks(range(len(classes)), [c.replace("_", " ") for c in classes])
    ax.set_xlim(0, max(duration_s, 1.0))
    ax.set_ylim(-0.7, max(1, len(classes)) - 0.3)
    ax.set_xlabel("time (s)")
    ax.set_title(title if classes else f"{title}: no events")
    ax.legend(handles=[Patch(facecolor=colour, label=modality) for modality, colour in TIMELINE_COLOURS.items()],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    fig.tight_layout()
    return fig


def plot_timeline(events: list[dict], duration_s: float, path: str | Path, title: str) -> None:
    """Write the timeline figure of `events` to `path` (PNG), legend included."""
    timeline_figure(events, duration_s, title).savefig(path, dpi=100, bbox_inches="tight")


def parse_video(video: str | Path, checkpoint: str | Path, config_path: str | Path,
                out_dir: str | Path | None = None, device: str = "cpu") -> dict:
    """Check the inputs, extract, predict, write <out>/<stem>.events.json and <stem>.timeline.png;
    return the JSON. Errors (ValueError, OSError) name the file and its problem."""
    import yaml

    from vplan_core import atomic
    from vplan_core.config import validate_config
    from vplan_core.training.checkpoints import checkpoint_inputs, load_checkpoint
    from vplan_core.data.video import VideoError, probe

    video, config_path = Path(video), Path(config_path)
    out_dir = Path(out_dir) if out_dir is not None else video.parent
    check_out_dir(out_dir)
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"config {config_path}: not valid YAML ({' '.join(str(exc).split())})") from exc
    validate_config(config)
    info = probe(video)
    if not info.has_audio:
        raise VideoError(video, "no audio stream", "the parsers need the audio track")
    n_windows = window_count(info.duration_s)
    check_audio_windows(video, info, n_windows, config["sampling"]["min_audio_s"])
    model, payload = load_checkpoint(checkpoint, device=device)
    inputs = checkpoint_inputs(payload)
    check_extractable(config, inputs, checkpoint, config_path)
    extractors = build_extractors(config, inputs, device)
    _check_dims(model, extractors, checkpoint, config_path)
    pred = window_probabilities(video, extractors, model, n_windows, device)
    check_finite(pred, checkpoint, video)
    events = events_from_probs(pred["audio_prob"], pred["visual_prob"], pred["video_prob"], info.duration_s)
    result = {
        "video": str(video), "duration_s": round(info.duration_s, 3), "windows": n_windows,
        "window_rule": f"consecutive 10-s windows from 0 s; up to {SLACK_S} s past the last full "
                       "window dropped, a longer rest padded (last frame repeated, silent audio); "
                       "segments starting after the end dropped",
        "checkpoint": str(checkpoint), "config": str(config_path),
        "threshold": "segment prob >= 0.5 and video-level prob >= 0.5",
        "events": events,
    }
    json_path, png_path = out_dir / f"{video.stem}.events.json", out_dir / f"{video.stem}.timeline.png"
    replaced = [str(path) for path in (json_path, png_path) if path.exists()]
    atomic.write_json(json_path, result)
    with warnings.catch_warnings():  # a title (file name) in a script the font lacks: boxes, not stderr noise
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        with atomic.replacing(png_path, ".png") as tmp:
            plot_timeline(events, info.duration_s, tmp, video.name)
    result["outputs"] = {"events": str(json_path), "timeline": str(png_path)}
    result["replaced"] = replaced
    return result


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, metavar="VIDEO.mp4",
                        help="a video of any length, with a video and an audio stream (one without audio "
                             "is refused, exit 2, as the workflow skips it for the audio features)")
    parser.add_argument("--checkpoint", required=True, type=Path, metavar="MODEL",
                        help="a trained model.pt (results/<dataset>/models/<family>/<row>/seeds_<seeds>/seed_<s>/model.pt)")
    parser.add_argument("--config", required=True, type=Path, metavar="CONFIG",
                        help="the workflow config the model was trained with (extractor settings)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: beside the video)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    result = parse_video(args.video, args.checkpoint, args.config, args.out, device=args.device)
    print(json.dumps({k: result[k] for k in ("video", "duration_s", "windows", "outputs", "replaced")}
                     | {"events": len(result["events"])}, indent=2))
    return 0
