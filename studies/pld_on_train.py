"""PLD on the videos row 5 trains on: the demo's training split against the demo world's own
dense visual ground truth (scenarios.json: LLP, and so the pipeline, has none for train).

PLD's K and alpha are chosen on val (the report's study), where the stage-1 model has not seen
the videos. Row 5 trains on the train split's refined labels, where the stage-1 model has fitted
the PLG labels it trained on, wrong ones included. This prints, per seed's row-4 model of a
finished demo run: its mean P^v on correct and on wrong PLG labels, and the segment F of the
PLG labels refined with each (K, alpha) of config.yaml's pld.study, beside PLG's own.
A diagnostic over results/demo, not a pipeline stage:

    make demo && .venv/bin/python studies/pld_on_train.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from vplan_core.data.dataset import load_labels, load_split_data
from vplan_core.data.description import LLP
from vplan_core.demo.scenarios import load_scenarios
from vplan_core.evaluation.label_quality import segment_event_f
from vplan_core.feature_registry import HAN_FEATURES
from vplan_core.method.ablation import ROWS, VPLAN_ROW
from vplan_core.method.pld import denoise, forward_loss_matrix
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.plan import seed_groups, group_name
from vplan_core.training.outputs import load_models
from vplan_core.paths import RunPaths, demo_resources
from vplan_core.training.refinement import stage1_prob

FAMILY = "han"  # the parser family whose row-4 models refine the labels row 5 trains on (the demo's)


def dense_visual_truth(scenarios: list[dict]) -> np.ndarray:
    """[N, T, C] uint8: the seconds each labelled object is in view, as the eval csv rows are."""
    gt = np.zeros((len(scenarios), LLP.segments, LLP.num_classes), dtype=np.uint8)
    for i, scenario in enumerate(scenarios):
        for event in scenario["events"]:
            if event["visual"] is not None:
                gt[i, event["visual"][0]:event["visual"][1], LLP.class_index[event["class"]]] = 1
    return gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as every workflow job (rules/common.smk JOB_THREADS)
    config = yaml.safe_load(Path(args.config).read_text())
    name = config["dataset"]["name"]
    paths, resources = RunPaths(name), Path(demo_resources(name))
    scenarios = [s for s in load_scenarios(resources / "scenarios.json") if s["split"] == "train"]
    stores = {feature: paths.existing_stores(feature) for feature in HAN_FEATURES}
    data = load_split_data(config["dataset"]["annotations"], "train", stores, {s["video_id"] for s in scenarios})
    by_id = {s["video_id"]: s for s in scenarios}
    gt = dense_visual_truth([by_id[vid] for vid in data.split.video_ids])
    stage1 = ROWS[VPLAN_ROW].visual.stage1  # row 5 trains on PLD of row 4's visual PLG labels
    plg = load_labels(paths.plg_labels(ROWS[stage1].visual.feature, "train"), data.split.video_ids)
    print(f"train videos {len(gt)}: PLG segment F {segment_event_f(plg, gt)['segment_f']:.1f}")
    correct, wrong = (plg == 1) & (gt == 1), (plg == 1) & (gt == 0)
    study = config["pld"]["study"]
    for group in seed_groups(config["train"]["seeds"], config["train"].get("seeds_per_job")):
        folder = paths.model_dir(stage1, group_name(group), FAMILY)
        prob = stage1_prob(SeedBatch(load_models(folder, group)), data.features, modality="visual")
        for seed, p in zip(group, prob):
            loss = forward_loss_matrix(p, plg)
            grid = " | ".join(f"K {k} a {a:g}: {segment_event_f(denoise(loss, plg, k=k, alpha=a), gt)['segment_f']:.1f}"
                              for k in study["k"] for a in study["alpha"])
            print(f"seed {seed}: mean P^v on correct PLG labels {p[correct].mean():.2f}, on wrong ones "
                  f"{p[wrong].mean():.2f}; PLD segment F: {grid}", flush=True)


if __name__ == "__main__":
    main()
