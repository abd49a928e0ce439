"""How to spend two CPU cores on the demo's jobs: one job with 2 threads, or two 1-thread jobs
side by side? And what does a larger batch buy? Measured on the demo 2D CNN's pretraining step
(torchvision ResNet-18, 32 px, AdamW), the largest job of `make demo`.

Every rule of the workflow asks for 2 threads, so on 2 cores Snakemake runs one job at a time.
This prints milliseconds per training example (median over steps): one process with 2 threads,
two concurrent processes with 1 thread each (their throughput together), at batch 32 (the demo
config) and 128. A scheduling change that follows from it also changes the numbers: torch's
float reductions depend on the thread count (checked: outputs differ by ~1e-2 after 3 steps).

    .venv/bin/python bench/bench_job_threads.py --steps 12
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def one_process(threads: int, batch: int, steps: int) -> float:
    """ms per example of ResNet-18 training steps at 32 px, median after 2 warm-up steps."""
    import torch
    import torchvision

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 26, (batch,))
    times = []
    for _ in range(steps + 2):
        started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return float(np.median(times[2:]) / batch * 1000)


def run(threads: int, batch: int, steps: int, copies: int) -> list[float]:
    """ms per example in each of `copies` concurrent processes."""
    command = [sys.executable, __file__, "--child", str(threads), str(batch), str(steps)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    return [float(p.communicate()[0]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(one_process(*args.child))
        return
    results = {}
    for batch in (32, 128):
        one = run(2, batch, args.steps, 1)[0]
        pair = run(1, batch, args.steps, 2)
        together = 1.0 / sum(1.0 / ms for ms in pair)  # ms per example of the pair's combined throughput
        results[f"batch {batch}"] = {"one job, 2 threads: ms/example": round(one, 2),
                                     "two 1-thread jobs: ms/example each": [round(ms, 2) for ms in pair],
                                     "two 1-thread jobs together: ms/example": round(together, 2),
                                     "throughput gain of the pair": round(one / together, 2)}
    results["batch 128 vs 32, one 2-thread job"] = round(results["batch 32"]["one job, 2 threads: ms/example"]
                                                         / results["batch 128"]["one job, 2 threads: ms/example"], 2)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
