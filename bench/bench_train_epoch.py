"""Seconds per training epoch of the vplan trainer over LLP-shaped random videos.

Official feature shapes (10×128 VGGish, 80×2048 ResNet-152, 10×512 R(2+1)D-18), d_model 512,
features resident on the device, the loop of vplan_core.training.train_one_epoch. Compare with
the anchors of docs/platform.md (reference loop 10.3-10.7 s an epoch on an H100).

    .venv/bin/python bench/bench_train_epoch.py --device cpu --threads 2 --epochs 1
    python bench/bench_train_epoch.py --device cuda --epochs 5 --warmup 1
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from vplan_core.training import TrainConfig, build_model, train_one_epoch


def random_inputs(n: int, device: torch.device, seed: int) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
    """LLP-shaped features and labels, generated directly on the device."""
    g = torch.Generator(device=device).manual_seed(seed)
    shapes = ((n, 10, 128), (n, 80, 2048), (n, 10, 512))
    inputs = tuple(torch.randn(s, generator=g, device=device) for s in shapes)
    y = (torch.rand(n, 25, generator=g, device=device) < 0.1).float()
    seg = (torch.rand(n, 10, 25, generator=g, device=device) < 0.5).float() * y[:, None]
    return inputs, y, seg


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs")
    ap.add_argument("--warmup", type=int, default=0, help="untimed epochs first")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--loss", default="plg_rl")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = TrainConfig(loss=args.loss, batch_size=args.batch_size, device=args.device)
    inputs, y, seg = random_inputs(args.videos, device, seed=0)
    torch.manual_seed(config.seed)
    model = build_model(config, *inputs, num_classes=25).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)

    seconds = []
    for epoch in range(1, args.warmup + args.epochs + 1):
        sync(device)
        started = time.perf_counter()
        train_one_epoch(model, optimizer, inputs, y, seg, config, generator, epoch)
        sync(device)
        if epoch > args.warmup:
            seconds.append(time.perf_counter() - started)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    print("| device | videos | batch | loss | epochs timed | s/epoch (median) | min | max |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {name} | {args.videos} | {args.batch_size} | {args.loss} | {len(seconds)} | "
          f"{statistics.median(seconds):.2f} | {min(seconds):.2f} | {max(seconds):.2f} |")


if __name__ == "__main__":
    main()
