"""Seconds to score all 1,200 LLP test videos: vectorised vplan_core.evaluation.metrics vs the loop oracle.

Random probabilities (with video-level gating) against the real dense test GT. Rows: the
whole evaluate_predictions call (alignment, checks, binarisation, scoring), scoring alone
(avvp_metrics on binary arrays), and tests/reference_metric.reference_eval (a literal port of
the reference eval() loop, which also rebuilds the GT from the CSVs for every video). Median
of --repeats runs each.

    .venv/bin/python bench/bench_metrics.py --annotations ../shared/llp --repeats 7
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.reference_metric

from tests.reference_metric import reference_eval  # noqa: E402
from vplan_core.data import annotations as llp  # noqa: E402
from vplan_core.evaluation import metrics  # noqa: E402


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "llp")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    split = llp.load_split(args.annotations, "test")
    rng = np.random.default_rng(args.seed)
    shape = split.gt_audio.shape
    pred = {"video_ids": np.array(split.filenames),
            "audio_prob": rng.random(shape, dtype=np.float32),
            "visual_prob": rng.random(shape, dtype=np.float32),
            "video_prob": rng.random((shape[0], 25), dtype=np.float32)}
    so_a, so_v = metrics.binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"])
    audio_csv, visual_csv = args.annotations / LLP.splits["test"].dense_audio, args.annotations / LLP.splits["test"].dense_visual

    rows = {
        "evaluate_predictions": lambda: metrics.evaluate_predictions(pred, split),
        "avvp_metrics (binary in)": lambda: metrics.avvp_metrics(split.gt_audio, split.gt_visual, so_a, so_v),
        "reference loop oracle": lambda: reference_eval(split.filenames, audio_csv, visual_csv,
                                                        pred["audio_prob"], pred["visual_prob"],
                                                        pred["video_prob"]),
    }
    seconds = {name: median_seconds(fn, args.repeats) for name, fn in rows.items()}
    oracle = seconds["reference loop oracle"]
    print(f"{len(split.filenames)} test videos, median of {args.repeats} runs")
    print(f"{'':26s} {'seconds':>9s} {'oracle / this':>14s}")
    for name, s in seconds.items():
        print(f"{name:26s} {s:9.4f} {oracle / s:14.1f}")


if __name__ == "__main__":
    main()
