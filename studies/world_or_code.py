"""World or code? Rows of the ablation retrained on the demo's own stores and PLG labels, with
the 2D visual features either as extracted (`real`) or replaced by the demo CLIP's segment
embeddings (`clip`), or with the R(2+1)D features set to zero (`no3d`: is the 3D half of HAN's
visual input, if it cannot see, what holds the rows back?). If the rows keep the paper's order
with CLIP's features but not with the backbone's, the method code is sound and the visual
backbone is what the world lacks. row5_vplan (after row4_plg_rl) trains on PLD labels from each
seed's row-4 model (config.yaml's pld.k and pld.alpha), and the PLD labels' val quality is printed.
Settings and seeds: config.yaml's train section (HAN's training settings, as the workflow's);
prints test segment-level F, mean ± std.

    make demo && .venv/bin/python studies/world_or_code.py clip row1_han,row2_plg,row4_plg_rl,row5_vplan
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from vplan_core.data.dataset import labelled_ids, load_labels, load_split_data
from vplan_core.evaluation.label_quality import segment_event_f
from vplan_core.feature_registry import HAN_FEATURES
from vplan_core.feature_store import available_ids, load_features
from vplan_core.method.ablation import NONE, PLD, PLG, ROWS, Labels
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.paths import RunPaths
from vplan_core.plan import train_settings
from vplan_core.training.refinement import refine_labels
from vplan_core.training.trainer import TrainConfig, evaluate_seeds, train

FAMILY = "han"  # the parser family trained (HAN, as the demo's ablation)
CLIP = "clip"  # the demo CLIP's segment embeddings: the `clip` mode's 2D features, and the visual PLG labels'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("real", "clip", "no3d"))
    ap.add_argument("rows", help="comma-separated row names, e.g. row1_han,row2_plg")
    ap.add_argument("--config", default="config.yaml")
    args = ap.parse_args()
    rows = args.rows.split(",")
    for i, row in enumerate(rows):
        if row not in ROWS:
            ap.error(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
        if set(ROWS[row].labels) - {"visual"}:
            ap.error(f"{row} trains on audio labels too: this study trains the rows with visual labels only "
                     f"(studies/audio_labels_or_code.py retrains row ⑥)")
        source = ROWS[row].visual
        if source.kind == PLD and source.stage1 not in rows[:i]:
            ap.error(f"{row} trains on PLD labels refined with {source.stage1}'s models: "
                     f"list {source.stage1} before it")
    torch.set_num_threads(1)  # as every workflow job (rules/common.smk JOB_THREADS): same numbers
    config = yaml.safe_load(Path(args.config).read_text())
    paths = RunPaths(config["dataset"]["name"])
    stores = {name: paths.existing_stores(name) for name in (*HAN_FEATURES, CLIP)}
    plg = paths.plg_labels(CLIP, "train")
    with_clip = available_ids(stores[CLIP])
    data = {split: load_split_data(config["dataset"]["annotations"], split, stores,
                                   labelled_ids(plg) if split == "train" else with_clip)
            for split in ("train", "val", "test")}
    if args.mode == "clip":
        for split_data in data.values():
            split_data.features.visual_2d = load_features(stores[CLIP], split_data.features.video_ids)
    if args.mode == "no3d":
        for split_data in data.values():
            split_data.features.visual_3d = np.zeros_like(split_data.features.visual_3d)
    test, trained = data["test"], {}
    for row in rows:
        source = ROWS[row].visual
        labels = None if source.kind == NONE else visual_labels(source, trained, data, paths, config["pld"])
        cfg = TrainConfig(**train_settings(config, ROWS[row].loss, FAMILY), seeds=config["train"]["seeds"])
        per_seed = train(cfg, data["train"].training_set(labels), data["val"].validation_set(), log=lambda _: None)
        trained[row] = SeedBatch([r.model for r in per_seed])
        scores = [m["segment_level"] for m in evaluate_seeds(trained[row], test.features.to_tensors("cpu"),
                                                             test.split.gt_audio, test.split.gt_visual)]
        cells = {key: np.array([s[key] for s in scores]) for key in scores[0]}
        print(args.mode, row, " ".join(f"{k} {v.mean():.1f} ± {v.std(ddof=1):.1f}" for k, v in cells.items()),
              flush=True)


def visual_labels(source: Labels, trained: dict[str, SeedBatch], data: dict, paths: RunPaths, pld: dict) -> np.ndarray:
    """A row's visual train labels: PLG's [N, T, C], or PLD's [S, N, T, C] of the stage-1 row's
    PLG labels refined with that row's models, trained earlier in this run."""
    if source.kind == PLG:
        return load_labels(paths.plg_labels(source.feature, "train"), data["train"].split.video_ids)
    return pld_labels(trained[source.stage1], ROWS[source.stage1].visual.feature, data, paths, pld)


def pld_labels(stage1: SeedBatch, feature: str, data: dict, paths: RunPaths, pld: dict) -> np.ndarray:
    """[S, N, T, C] train labels (`feature`'s PLG) refined by each seed's stage-1 model, as the
    pld_labels rule does; prints the refined val labels' segment F per seed beside PLG's."""
    refined = {}
    for split in ("train", "val"):
        ids = data[split].split.video_ids
        plg = load_labels(paths.plg_labels(feature, split), ids)
        refined[split], _ = refine_labels(stage1, data[split].features, plg, pld["k"], pld["alpha"], modality="visual")
        if split == "val":
            gt = data[split].split.gt_visual
            seeds_f = " ".join(f"{segment_event_f(labels, gt)['segment_f']:.1f}" for labels in refined[split])
            print(f"val segment F: PLG {segment_event_f(plg, gt)['segment_f']:.1f}, "
                  f"PLD (K {pld['k']}, alpha {pld['alpha']:g}) per seed {seeds_f}", flush=True)
    return refined["train"]


if __name__ == "__main__":
    main()
