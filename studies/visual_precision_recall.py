"""Why does a row's segment-level V F-score move? Precision and recall of each seed's visual
segment predictions on the test split, pooled over videos (the F-score itself is a mean over
videos: docs/metric.md), binarised and gated exactly as the evaluation does. Reads the finished
demo's HAN models: a row that predicts fewer positive segments than there are true ones is timid
(PLG's trade of recall for precision), one that predicts more is guessing from the video label.
First lines: the PLG labels themselves on val (the split the workflow scores them on) and on
test, made here from the test CLIP embeddings and the test video labels exactly as the plg_labels
rule makes them: the teacher's own figure on the split the rows are scored on (it is given the video
label, which a row must predict).

    make demo && .venv/bin/python studies/visual_precision_recall.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from vplan_core.data.dataset import load_labels
from vplan_core.data.annotations import load_split
from vplan_core.evaluation.label_quality import segment_event_f
from vplan_core.evaluation.metrics import binarize
from vplan_core.feature_store import load_features
from vplan_core.method.ablation import ROWS
from vplan_core.method.plg import label_segments
from vplan_core.plan import plg_settings
from vplan_core.training.outputs import load_predictions

FAMILY = "han"  # the parser family whose models are read (the demo trains every row with HAN)
FEATURE = "clip"  # the pseudo-label feature of the visual PLG labels


def precision_recall(truth: np.ndarray, predicted: np.ndarray) -> str:
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    hits = int((truth & predicted).sum())
    return (f"precision {hits / max(predicted.sum(), 1):.3f} recall {hits / max(truth.sum(), 1):.3f} "
            f"(positive segments predicted {int(predicted.sum())}, true {int(truth.sum())})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results/demo", help="the workflow's results/<dataset> folder")
    ap.add_argument("--annotations", default="resources/demo/annotations")
    ap.add_argument("--config", default="config.yaml", help="the run's config, for PLG's settings plg.clip (tau)")
    args = ap.parse_args()
    val = load_split(args.annotations, "val")
    plg = load_labels(Path(args.results, "labels", "plg", FEATURE, "val.npz"), val.video_ids)
    print(f"PLG labels, val: {precision_recall(val.gt_visual, plg)}")
    split = load_split(args.annotations, "test")
    clip_stores = sorted(Path(args.results, "features", FEATURE).glob("shard_*.zarr"))
    # the plg_labels rule's settings: plg.clip (tau) over the feature's defaults, less the prompt
    config = yaml.safe_load(Path(args.config).read_text())
    settings = {key: value for key, value in plg_settings(config, FEATURE).items() if key != "prompt"}
    with np.load(Path(args.results, "plg", FEATURE, "text_embeddings.npz")) as text:
        segments = load_features(clip_stores, split.video_ids)
        plg_test = label_segments(segments, dict(text), split.weak_labels, **settings)
    print(f"PLG labels, test: {precision_recall(split.gt_visual, plg_test)}, "
          f"segment F {segment_event_f(plg_test, split.gt_visual)['segment_f']:.1f}")
    row_of = {name: i for i, name in enumerate(split.filenames)}
    for row in ROWS:
        for job in sorted(Path(args.results, "models", FAMILY, row).glob("seeds_*")):
            for seed_dir in sorted(job.glob("seed_*")):
                pred = load_predictions(job, int(seed_dir.name.removeprefix("seed_")))
                _, visual = binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"])
                truth = split.gt_visual[[row_of[name] for name in pred["video_ids"]]]
                print(f"{row} {seed_dir.name}: {precision_recall(truth, visual)}")


if __name__ == "__main__":
    main()
