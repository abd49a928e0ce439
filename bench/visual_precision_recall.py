"""Why does a row's segment-level V F-score move? Precision and recall of each seed's visual
segment predictions on the test split, pooled over videos (the F-score itself is a mean over
videos: metric.md), binarised and gated exactly as the evaluation does. Reads the finished
demo's models: a row that predicts fewer positive segments than there are true ones is timid
(PLG's trade of recall for precision), one that predicts more is guessing from the video label.
First line: the PLG labels themselves on val (the only labelled split they exist for).

    make demo && .venv/bin/python bench/visual_precision_recall.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vplan_core.data.dataset import load_labels
from vplan_core.data.llp import load_split
from vplan_core.evaluation.metrics import binarize
from vplan_core.method.ablation import ROWS
from vplan_core.training.outputs import load_predictions


def precision_recall(truth: np.ndarray, predicted: np.ndarray) -> str:
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    hits = int((truth & predicted).sum())
    return (f"precision {hits / max(predicted.sum(), 1):.3f} recall {hits / max(truth.sum(), 1):.3f} "
            f"(positive segments predicted {int(predicted.sum())}, true {int(truth.sum())})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results/demo", help="the workflow's results/<dataset> folder")
    ap.add_argument("--annotations", default="resources/demo/annotations")
    args = ap.parse_args()
    val = load_split(args.annotations, "val")
    plg = load_labels(Path(args.results, "labels", "plg", "val.npz"), val.video_ids)
    print(f"PLG labels, val: {precision_recall(val.gt_visual, plg)}")
    split = load_split(args.annotations, "test")
    row_of = {name: i for i, name in enumerate(split.filenames)}
    for row in ROWS:
        for job in sorted(Path(args.results, "models", row).glob("seeds_*")):
            for seed_dir in sorted(job.glob("seed_*")):
                pred = load_predictions(job, int(seed_dir.name.removeprefix("seed_")))
                _, visual = binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"])
                truth = split.gt_visual[[row_of[name] for name in pred["video_ids"]]]
                print(f"{row} {seed_dir.name}: {precision_recall(truth, visual)}")


if __name__ == "__main__":
    main()
