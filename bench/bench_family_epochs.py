"""Seconds per training epoch of each parser family on LLP-shaped features, side by side in one run.

Each family with its official recipe from config/llp.yaml (HAN: batch 32, d 512; MGN: batch 16,
dim 128, depths 3/3/6; MM-Pyramid: batch 16, hidden 512, 4 levels), row ④'s loss (Eq. 9, plus
MGN's class-token terms), random LLP-shaped videos (10×128, 80×2048, 10×512) resident on the
device, the loop of vplan_core.training.trainer.train_one_epoch, one seed (--seeds: several in one
SeedBatch). The families' epochs are timed in turns (round-robin, so that drift on a shared machine
hits all alike), median of --repeats; the official epoch counts give the cost of one training run.

    .venv/bin/python bench/bench_family_epochs.py --device cpu --threads 2 --videos 160 --repeats 3
    .venv/bin/python bench/bench_family_epochs.py --models mm_pyramid --seeds 3 --threads 1 --videos 48 --repeats 1
    python bench/bench_family_epochs.py --device cuda --videos 10000 --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
import yaml

from bench_train_epoch import Run, random_inputs  # bench/ is this script's folder
from vplan_core.plan import train_settings, trained_models
from vplan_core.training.trainer import TrainConfig

LLP_CONFIG = Path(__file__).resolve().parents[1] / "config/llp.yaml"


def family_config(config: dict, model: str, device: str, seeds: int) -> TrainConfig:
    """The family's row-4 training settings exactly as the workflow gives them to its jobs."""
    return TrainConfig(**train_settings(config, "plg_rl", model), seeds=list(range(seeds)), device=device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--videos", type=int, default=160)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", type=Path, default=LLP_CONFIG)
    ap.add_argument("--seeds", type=int, default=1, help="seeds trained together (one SeedBatch)")
    ap.add_argument("--models", help="comma-separated parsers of the config (default: all it trains)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = yaml.safe_load(args.config.read_text())
    inputs, y, seg = random_inputs(args.videos, device)
    runs = {model: Run(family_config(config, model, args.device, args.seeds), inputs, y, seg, device)
            for model in (args.models.split(",") if args.models else trained_models(config))}
    times = {model: [] for model in runs}
    for _ in range(args.repeats):
        for model, run in runs.items():
            times[model].append(run.epoch_seconds(device))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    print(f"{name}, {args.videos} videos, {args.seeds} seed(s) batched, {args.repeats} epochs each, median s/epoch")
    print("| family | batch | parameters | s/epoch (median) | min | max | per 10,000 videos | official epochs | one run (10,000 videos) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model, run in runs.items():
        med, per_llp = statistics.median(times[model]), statistics.median(times[model]) * 10_000 / args.videos
        params = sum(p[0].numel() for p in run.batch.params.values())
        print(f"| {model} | {run.config.batch_size} | {params / 1e6:.1f} M | {med:.2f} | {min(times[model]):.2f} | "
              f"{max(times[model]):.2f} | {per_llp:.0f} s | {run.config.epochs} | {per_llp * run.config.epochs / 60:.0f} min |")
    first, *others = runs
    base = statistics.median(times[first])
    print("; ".join(f"{m} / {first} = {statistics.median(times[m]) / base:.2f}" for m in others))


if __name__ == "__main__":
    main()
