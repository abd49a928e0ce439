"""World or code? Rows of the ablation retrained on the demo's own stores and PLG labels, with
the 2D visual features either as extracted (`real`) or replaced by the demo CLIP's segment
embeddings (`clip`). If the rows keep the paper's order with CLIP's features but not with the
backbone's, the method code is sound and the visual backbone is what the world lacks.
Settings and seeds: config.yaml's train section; prints test segment-level F, mean ± std.

    make demo && .venv/bin/python bench/world_or_code.py clip row1_han,row2_plg,row4_plg_rl
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from vplan_core.data.dataset import load_labels, load_split_data
from vplan_core.evaluation.metrics import avvp_metrics, binarize
from vplan_core.features.registry import HAN_FEATURES
from vplan_core.features.store import read_store
from vplan_core.method.ablation import ROWS
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.plan import train_settings
from vplan_core.training.prediction import predict_seeds
from vplan_core.training.trainer import TrainConfig, train


def clip_embeddings(results: Path) -> dict[str, np.ndarray]:
    """video id -> [10, D] demo CLIP image embeddings, from the clip stores."""
    embeddings = {}
    for path in sorted((results / "features/clip").glob("shard_*.zarr")):
        data, ids, _ = read_store(path)
        embeddings.update(zip(ids, data))
    return embeddings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("real", "clip"))
    ap.add_argument("rows", help="comma-separated row names, e.g. row1_han,row2_plg")
    ap.add_argument("--config", default="config.yaml")
    args = ap.parse_args()
    torch.set_num_threads(2)
    config = yaml.safe_load(Path(args.config).read_text())
    results = Path("results") / config["dataset"]["name"]
    stores = {name: [str(p) for p in sorted((results / f"features/{name}").glob("shard_*.zarr"))]
              for name in HAN_FEATURES}
    clip = clip_embeddings(results)
    plg = results / "labels/plg/train.npz"
    labelled = set(np.load(plg)["video_ids"].tolist())
    data = {split: load_split_data(config["dataset"]["annotations"], split, stores,
                                   labelled if split == "train" else set(clip))
            for split in ("train", "val", "test")}
    if args.mode == "clip":
        for split_data in data.values():
            split_data.features.visual_2d = np.stack([clip[v] for v in split_data.features.video_ids])
    labels = load_labels(plg, data["train"].split.video_ids)
    test = data["test"].split
    for row in args.rows.split(","):
        cfg = TrainConfig(**train_settings(config, ROWS[row].loss), seeds=config["train"]["seeds"])
        per_seed = train(cfg, data["train"].features, data["train"].split.weak_labels,
                         labels if ROWS[row].labels else None, data["val"].features,
                         data["val"].split.gt_audio, data["val"].split.gt_visual, log=lambda _: None)
        pred = predict_seeds(SeedBatch([r.model for r in per_seed]), data["test"].features.to_tensors("cpu"))
        scores = [avvp_metrics(test.gt_audio, test.gt_visual,
                               *binarize(pred["audio_prob"][s], pred["visual_prob"][s], pred["video_prob"][s]))
                  ["segment_level"] for s in range(len(per_seed))]
        cells = {key: np.array([s[key] for s in scores]) for key in scores[0]}
        print(args.mode, row, " ".join(f"{k} {v.mean():.1f} ± {v.std(ddof=1):.1f}" for k, v in cells.items()),
              flush=True)


if __name__ == "__main__":
    main()
