"""Seconds per training epoch: S seeds batched in one model vs the same seeds one after another.

LLP-shaped random videos (official shapes: 10×128 VGGish, 80×2048 ResNet-152, 10×512
R(2+1)D-18), d_model 512, batch 32, loss of row ④ (Eq. 9), features resident on the device,
the loop of vplan_core.training.trainer.train_one_epoch. Three ways, measured side by side, in turns
(round-robin, so that drift on a shared machine hits all alike), median of --repeats:
  one:        S = 1 (seed 0)
  batched:    S = --seeds in one SeedBatch
  sequential: --seeds separate S = 1 epochs, one after another (what separate jobs cost)

    .venv/bin/python bench/bench_train_epoch.py --device cpu --threads 2 --videos 320 --repeats 3
    python bench/bench_train_epoch.py --device cuda --videos 10000 --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from vplan_core.method.losses import LossConfig
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.step import Step, new_optimizer
from vplan_core.training.trainer import TrainConfig, initial_model, stream_seed, train_one_epoch


def random_inputs(n: int, device: torch.device) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
    """LLP-shaped features and labels, generated directly on the device."""
    g = torch.Generator(device=device).manual_seed(0)
    shapes = ((n, 10, 128), (n, 80, 2048), (n, 10, 512))
    inputs = tuple(torch.randn(s, generator=g, device=device) for s in shapes)
    y = (torch.rand(n, 25, generator=g, device=device) < 0.1).float()
    seg = (torch.rand(n, 10, 25, generator=g, device=device) < 0.5).float() * y[:, None]
    return inputs, y, seg


class Run:
    """One trainer state (model batch, optimizer, generators) that epochs can be timed on."""

    def __init__(self, config: TrainConfig, inputs, y, seg, device: torch.device):
        self.config = config
        self.batch = SeedBatch([initial_model(config, inputs, 25, s) for s in config.seeds]).to(device)
        self.optimizer = new_optimizer(self.batch, config)
        self.step = Step(self.batch, self.optimizer, inputs, y, seg.expand(len(config.seeds), *seg.shape), None, config)
        self.orders = [torch.Generator().manual_seed(s) for s in config.seeds]
        self.noise = [torch.Generator(device).manual_seed(stream_seed(s, "dropout")) for s in config.seeds]
        self.epoch = 0

    def epoch_seconds(self, device: torch.device) -> float:
        self.epoch += 1
        sync(device)
        started = time.perf_counter()
        train_one_epoch(self.step, self.config, self.orders, self.noise, self.epoch)
        sync(device)
        return time.perf_counter() - started


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--videos", type=int, default=320)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="timed epochs of each way")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    inputs, y, seg = random_inputs(args.videos, device)

    def config(seeds) -> TrainConfig:
        return TrainConfig(loss=LossConfig("plg_rl"), seeds=seeds, batch_size=args.batch_size, device=args.device)

    one = Run(config([0]), inputs, y, seg, device)
    batched = Run(config(range(args.seeds)), inputs, y, seg, device)
    separate = [Run(config([s]), inputs, y, seg, device) for s in range(args.seeds)]
    times = {"one": [], "batched": [], "sequential": []}
    for _ in range(args.repeats):
        times["one"].append(one.epoch_seconds(device))
        times["batched"].append(batched.epoch_seconds(device))
        times["sequential"].append(sum(run.epoch_seconds(device) for run in separate))
    med = {way: statistics.median(t) for way, t in times.items()}

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    print(f"{name}, {args.videos} videos, batch {args.batch_size}, {args.repeats} epochs each, median s/epoch")
    print("| way | seeds | s/epoch (median) | min | max |")
    print("|---|---|---|---|---|")
    for way, seeds in (("one", 1), ("batched", args.seeds), ("sequential", args.seeds)):
        t = times[way]
        print(f"| {way} | {seeds} | {med[way]:.2f} | {min(t):.2f} | {max(t):.2f} |")
    print(f"batched / sequential = {med['batched'] / med['sequential']:.2f}; "
          f"batched / one = {med['batched'] / med['one']:.2f}")


if __name__ == "__main__":
    main()
