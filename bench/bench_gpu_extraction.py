"""Feature extraction throughput on synthetic 10-s LLP-like clips: videos/s per stage and overall.

Stages are the workflow's extractors (vplan_core.features.extract.extract_shard) with the
official LLP settings: VGGish (16 kHz, 10 examples), ResNet-152 on 80 frames at 224 px,
R(2+1)D-18 on the same 80 frames at 112 px (10 clips of 8), CLIP ViT-B-32 on 10 frames.
Inputs of several videos are batched per forward, decoding runs in DataLoader worker processes
(--workers) so that it overlaps the GPU, and the forward passes run under bf16 autocast on CUDA
(--no-bf16 to compare with float32). Weights are seeded random (same FLOPs as the pretrained
ones; nothing is downloaded). Clips are the demo's synthetic scenes written as H.264/AAC mp4 at
LLP-like size (--width/--height, 30 fps, 44.1 kHz stereo-like AAC).

GPU FIGURES ARE NOT MEASURED YET: this has only been smoke-tested on CPU, e.g.

    .venv/bin/python bench/bench_gpu_extraction.py --device cpu --clips 2 --small
    python bench/bench_gpu_extraction.py --device cuda --clips 64 --workers 8   # on a GPU node

--small swaps in ResNet-18 at 112 px, R(2+1)D at 56 px and skips CLIP (a CPU smoke check).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import torch

from vplan_core.demo.clips import write_clip
from vplan_core.demo.scenarios import make_scenarios
from vplan_core.features.extract import extract_shard
from vplan_core.data.manifest import probe_videos


def make_clips(directory: Path, n: int, width: int, height: int, fps: int) -> list[Path]:
    scenarios = make_scenarios(n_train=n, n_val=1, n_test=1, seed=0)[:n]
    return [write_clip(s, directory / f"{s['video_id']}.mp4", width, height, fps) for s in scenarios]


def stage_settings(small: bool, batch: int, workers: int) -> dict[str, dict]:
    common = {"seconds": 10, "num_workers": workers}
    stages = {
        "vggish": {"weights": "random:0", "pca": False, "audio_rate": 16000, "batch_size": 4 * batch},
        "cnn2d": {"backbone": "resnet18" if small else "resnet152", "weights": "random:0",
                  "size": 112 if small else 224, "fps": 8, "batch_size": 80 * max(1, batch // 8)},
        "r2plus1d": {"weights": "random:0", "size": 56 if small else 112, "fps": 8,
                     "batch_size": 10 * max(1, batch // 8)},
    }
    if not small:
        stages["clip"] = {"model_name": "ViT-B-32", "checkpoint": "random:0", "batch_size": 10 * batch}
    return {name: {**common, **s} for name, s in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="DataLoader decode processes")
    parser.add_argument("--batch", type=int, default=16, help="videos per forward (scaled per stage)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--small", action="store_true", help="small backbones (CPU smoke check)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        make_clips(Path(tmp), args.clips, args.width, args.height, args.fps)
        print(f"wrote {args.clips} clips in {time.perf_counter() - started:.1f} s")
        rows = probe_videos([p.stem for p in sorted(Path(tmp).glob("*.mp4"))], tmp)
        results = {}
        for feature, settings in stage_settings(args.small, args.batch, args.workers).items():
            bf16 = args.device.startswith("cuda") and not args.no_bf16
            autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            started = time.perf_counter()
            with autocast:
                summary = extract_shard(feature, rows, Path(tmp) / f"{feature}.zarr", settings, device=args.device)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
            results[feature] = {"videos": summary["n_written"], "seconds": round(seconds, 2),
                                "videos_per_s": round(summary["n_written"] / seconds, 3),
                                "model": summary["model"], "shape": summary["shape"], "bf16": bf16}
            print(feature, results[feature], flush=True)
        total = sum(r["seconds"] for r in results.values())
        results["overall"] = {"videos": args.clips, "seconds": round(total, 2),
                              "videos_per_s": round(args.clips / total, 3),
                              "note": "stages run one after another; all features of a video"}
        print("overall", results["overall"])
        report = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
                  "args": {k: str(v) for k, v in vars(args).items()}, "results": results}
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
