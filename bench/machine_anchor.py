"""How fast this CPU is right now, against the anchors of ../shared/docs/platform.md.

The project's 2-core machines are shared and their speed varies from day to day (the same demo
CLIP training took 146 s one day and 314 s the next). A wall-clock figure such as `make demo`'s
is only comparable with this run beside it. It times platform.md's CPU anchors (random
weights, 2 threads): ResNet-152 on a batch of 8 at 224 px (platform.md: 1.5 s), R(2+1)D-18 on
one 16 x 112 clip (0.6 s), VGGish on 10 examples (0.15 s); median of --repeats, and the
slowdown against platform.md's figure. Run it before and after the timed command:

    .venv/bin/python bench/machine_anchor.py --threads 2 --repeats 3

About 30-60 s. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torchvision

from vplan_core.features.vggish import VGGish

# anchor -> (platform.md seconds, model builder, input shape)
ANCHORS = {
    "resnet152_batch8_224": (1.5, torchvision.models.resnet152, (8, 3, 224, 224)),
    "r2plus1d_18_clip16_112": (0.6, torchvision.models.video.r2plus1d_18, (1, 3, 16, 112, 112)),
    "vggish_10_examples": (0.15, VGGish, (10, 1, 96, 64)),
}


def time_anchor(build, shape: tuple[int, ...], repeats: int) -> float:
    """Median seconds of one inference-mode forward (after one warm-up)."""
    model = build().eval()
    x = torch.randn(shape)
    times = []
    with torch.inference_mode():
        model(x)
        for _ in range(repeats):
            started = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "threads": args.threads}
    slowdowns = []
    for name, (platform_s, build, shape) in ANCHORS.items():
        seconds = time_anchor(build, shape, args.repeats)
        slowdowns.append(round(seconds / platform_s, 2))
        out[name] = {"seconds": round(seconds, 3), "platform_md_s": platform_s, "slowdown": slowdowns[-1]}
    out["median_slowdown"] = statistics.median(slowdowns)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
