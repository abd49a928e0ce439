"""Peak memory and time of `vplan parse` on one 10-s clip at 320x180, 1920x1080 and 3840x2160.

Each parse is its own process (`vplan parse` through vplan_core.cli.main), which reports its peak
RSS (getrusage) and wall time. The clips are real mp4s written with PyAV (libx264, 25 fps, stereo
44.1 kHz; tests/media.py barcode frames), parsed with the demo's extractor settings at random
weights, frames resized to config/llp.yaml's sizes (ResNet 224 px, R(2+1)D 112 px), and an untrained
HAN (tests/test_parse.py write_tiny_model): the figures measure decoding and the pipeline, not a
model. "before" parses the same clip with the decode-time reduction turned off (every frame held
at the file's size until each extractor resizes it, as up to 2026-12-07), side by side in the
same run.

    .venv/bin/python bench/bench_parse_resolution.py [--sizes 320x180 1920x1080 3840x2160] [--modes now before] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.media import Audio, write_video  # noqa: E402
from tests.test_parse import write_tiny_model  # noqa: E402
from parse_runs import parse_once  # noqa: E402  (bench/ is this script's folder)

# what a 'before' row runs first: the change undone in its interpreter
BEFORE = 'from vplan_core.data import frames; frames.REDUCE_MARGIN = 10 ** 9'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["320x180", "1920x1080", "3840x2160"])
    ap.add_argument("--modes", nargs="+", default=["now", "before"], choices=["now", "before"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, checkpoint = write_tiny_model(root, frame_size=224)
        settings = yaml.safe_load(config.read_text())
        settings["features"]["r2plus1d"]["size"] = 112
        config.write_text(yaml.safe_dump(settings))
        settings = settings["features"]
        print(f"extractor frame sizes: cnn2d {settings['cnn2d']['size']}, r2plus1d {settings['r2plus1d']['size']}",
              flush=True)
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            video = root / f"clip_{size}.mp4"
            write_video(video, seconds=10.0, fps=25, width=width, height=height, audio=Audio(2, 44100))
            for mode in args.modes:
                run = parse_once(video, checkpoint, config, root / "out", BEFORE if mode == "before" else "")
                rows.append({"size": size, "mode": mode, "video_mb": video.stat().st_size / 2 ** 20, **run})
                print(f"{size} ({rows[-1]['video_mb']:.1f} MB), {mode}: {run['seconds']:.1f} s, "
                      f"peak RSS {run['peak_rss_mb']:.0f} MB, exit {run['exit']}", flush=True)
    base = {row["mode"]: row["peak_rss_mb"] for row in rows if row["size"] == args.sizes[0]}
    print(f"| video | way | parse s | peak RSS MB | vs {args.sizes[0]} |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['size']} | {row['mode']} | {row['seconds']:.1f} | {row['peak_rss_mb']:.0f} | "
              f"{row['peak_rss_mb'] / base[row['mode']]:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
