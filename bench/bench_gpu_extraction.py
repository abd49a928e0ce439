"""Steady-state feature extraction: all features of each video in one pass, videos/s.

The workflow's shard job (vplan_core.features.extract.run_shard) at LLP's settings: VGGish (16 kHz,
10 examples), ResNet-152 on 80 frames at 224 px, R(2+1)D-18 on the same 80 frames at 112 px
(10 clips of 8), CLIP ViT-B/32 on 10 frames (and, with --features ...,clap, CLAP HTSAT-fused on
ten 1-s windows at 48 kHz). Each video is decoded once, in DataLoader workers (--workers);
frames are resized and normalised on the device; models run in bfloat16 with channels-last
convolutions on CUDA. Weights are seeded random (same FLOPs as the pretrained ones; nothing is
downloaded). Clips are the demo's synthetic scenes written as H.264/AAC mp4 at LLP-like size
(--width/--height, 30 fps); --distinct of them are written and linked under --clips names, so
every video is still decoded from its file.

Timed apart: writing clips, building the models (the job does it once), a warm-up shard
(--warmup clips: worker start, cuDNN's kernel choice, first allocations). Then the steady-state
shard of --clips videos, twice: once as the workflow runs it (overall videos/s), once with a
device wait after each feature's step (timed=True), for the per-feature split of one run.

    python bench/bench_gpu_extraction.py --device cuda --clips 512 --workers 14     # GPU node
    .venv/bin/python bench/bench_gpu_extraction.py --device cpu --clips 8 --warmup 2 --distinct 4 --small
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from vplan_core.data.manifest import probe_videos
from vplan_core.demo import clap_training
from vplan_core.demo.clips import write_clip
from vplan_core.demo.scenarios import make_scenarios
from vplan_core.features.extract import build_extractor, run_shard
from vplan_core.method import plg


def _write(args: tuple) -> Path:
    scenario, path, width, height, fps = args
    return write_clip(scenario, path, width, height, fps)


def make_clips(directory: Path, n: int, distinct: int, width: int, height: int, fps: int) -> list[str]:
    """n video ids in `directory`: `distinct` clips written (in parallel), the rest linked to them."""
    scenarios = make_scenarios(n_train=distinct, n_val=1, n_test=1, seed=0)[:distinct]
    sources = directory / "distinct"
    sources.mkdir()
    with ProcessPoolExecutor(max(1, (os.cpu_count() or 2) - 1)) as pool:
        written = list(pool.map(_write, [(s, sources / f"{s['video_id']}.mp4", width, height, fps) for s in scenarios]))
    ids = [f"{i:011d}" for i in range(n)]
    for i, video_id in enumerate(ids):
        os.link(written[i % distinct], directory / f"{video_id}.mp4")
    return ids


def feature_settings(features: list[str], small: bool, batch: int, clap_files: dict) -> dict[str, dict]:
    """LLP's settings per feature; batch_size in model inputs (frames, clips, examples, windows)
    for `batch` videos. --small: ResNet-18 at 112 px, R(2+1)D at 56 px, CLIP at 64 px (CPU check)."""
    every = {
        "vggish": {"weights": "random:0", "pca": False, "batch_size": 10 * batch},
        "cnn2d": {"backbone": "resnet18" if small else "resnet152", "weights": "random:0",
                  "size": 112 if small else 224, "batch_size": 80 * batch},
        "r2plus1d": {"weights": "random:0", "size": 56 if small else 112, "batch_size": 10 * batch},
        "clip": {"model_name": "ViT-B-32", "checkpoint": "random:0", "size": 64 if small else 224,
                 "batch_size": 10 * batch},
        "clap": {"checkpoint": "random:0", **clap_files, "fusion": True, "batch_size": 10 * batch},
    }
    return {name: every[name] for name in features}


def clap_files(directory: Path) -> dict:
    """A LAION-size fused CLAP config (transformers' ClapConfig defaults) and a tokenizer."""
    from transformers import ClapConfig

    config = ClapConfig(audio_config={"enable_fusion": True}).to_dict()
    (directory / "clap_config.json").write_text(json.dumps(config))
    clap_training.build_tokenizer(directory / "tokenizer", plg.prompt_texts(plg.AUDIO_PROMPT, ["dog"]), vocab_size=300)
    return {"config": str(directory / "clap_config.json"), "tokenizer": str(directory / "tokenizer")}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--clips", type=int, default=512, help="videos in the steady-state shard")
    parser.add_argument("--warmup", type=int, default=32, help="videos in the warm-up shard")
    parser.add_argument("--distinct", type=int, default=64, help="clips actually written")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2), help="decoding processes")
    parser.add_argument("--batch", type=int, default=16, help="videos per forward")
    parser.add_argument("--features", default="vggish,cnn2d,r2plus1d,clip")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--small", action="store_true", help="small backbones and sizes (CPU check)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    features = args.features.split(",")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = tmp / "videos"
        videos.mkdir()
        started = time.perf_counter()
        ids = make_clips(videos, args.warmup + args.clips, min(args.distinct, args.warmup + args.clips),
                         args.width, args.height, args.fps)
        rows = probe_videos(ids, videos)
        print(f"wrote {args.distinct} clips, linked {len(ids)} videos, probed them: "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        started = time.perf_counter()
        clap = clap_files(tmp) if "clap" in features else {}
        extractors = {name: build_extractor(name, s, args.device)
                      for name, s in feature_settings(features, args.small, args.batch, clap).items()}
        sync(args.device)
        build_s = time.perf_counter() - started
        stores = {name: tmp / f"{name}.zarr" for name in features}

        def shard(records, timed: bool) -> tuple[float, dict]:
            sync(args.device)
            began = time.perf_counter()
            summaries = run_shard(extractors, records, stores, num_workers=args.workers, timed=timed)
            sync(args.device)
            return time.perf_counter() - began, summaries

        warm_s, _ = shard(rows[:args.warmup], timed=False)
        steady_s, summaries = shard(rows[args.warmup:], timed=False)
        split_s, split = shard(rows[args.warmup:], timed=True)
        n = args.clips
        results = {
            "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
            "features": features, "videos": n, "workers": args.workers, "batch_videos": args.batch,
            "build_models_s": round(build_s, 2), "warmup": {"videos": args.warmup, "seconds": round(warm_s, 2)},
            "steady": {"seconds": round(steady_s, 2), "videos_per_s": round(n / steady_s, 2),
                       "decode_wait_s": summaries[features[0]]["decode_seconds"],
                       "llp_minutes": round(11_849 / (n / steady_s) / 60, 1)},
            "split_run": {"seconds": round(split_s, 2), "videos_per_s": round(n / split_s, 2),
                          "decode_wait_s": split[features[0]]["decode_seconds"],
                          "per_feature_s": {name: s["seconds"] for name, s in split.items()},
                          "written": {name: s["n_written"] for name, s in split.items()}},
            "args": {k: str(v) for k, v in vars(args).items()},
        }
        print(json.dumps(results, indent=1))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
