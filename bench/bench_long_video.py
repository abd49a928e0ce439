"""Peak memory and time of `vplan parse` on long videos (1, 10 and 60 minutes by default).

Each run is its own process (`vplan parse` through vplan_core.cli.main), which reports its peak
RSS (getrusage) and wall time; the videos are small real mp4s (64x48, 8 fps, stereo 44.1 kHz)
written with PyAV, parsed with the demo's extractor settings at random weights and an untrained
HAN (tests/test_parse.py write_tiny_model): the figures measure the pipeline, not a model. With
--before, the same videos are also parsed the way `vplan parse` worked up to 2026-12-05 (every
window's features held at once, each window's audio decoded from the start of the file), side by
side in the same run.

    .venv/bin/python bench/bench_long_video.py [--minutes 1 10 60] [--before 1 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.media import Audio, write_video  # noqa: E402
from tests.test_parse import write_tiny_model  # noqa: E402
from parse_runs import parse_once  # noqa: E402  (bench/ is this script's folder)

# what a 'before' row runs first: the change undone in its interpreter
BEFORE = 'from vplan_core import parse; from vplan_core.data import video; parse.WINDOWS_PER_PASS = 10 ** 9; video.AUDIO_SEEK_AFTER_S = float("inf")'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    ap.add_argument("--before", type=float, nargs="*", default=[], help="minutes also parsed the old way")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, checkpoint = write_tiny_model(root)
        for minutes in args.minutes:
            video = root / f"long_{minutes:g}min.mp4"
            started = time.perf_counter()
            write_video(video, seconds=60.0 * minutes, fps=8, width=64, height=48, audio=Audio(2, 44100))
            made = time.perf_counter() - started
            for mode in ("now", *(["before"] if minutes in args.before else [])):
                run = parse_once(video, checkpoint, config, root / "out", BEFORE if mode == "before" else "")
                rows.append({"minutes": minutes, "mode": mode, "video_mb": video.stat().st_size / 2 ** 20,
                             "write_seconds": made, **run})
                print(f"{minutes:g} min ({rows[-1]['video_mb']:.1f} MB), {mode}: {run['seconds']:.1f} s, "
                      f"peak RSS {run['peak_rss_mb']:.0f} MB, exit {run['exit']}", flush=True)
    print("| video | way | parse s | s per video minute | peak RSS MB |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['minutes']:g} min | {row['mode']} | {row['seconds']:.1f} | {row['seconds'] / row['minutes']:.2f} | "
              f"{row['peak_rss_mb']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
