"""Audio labels or code? Row ⑥ (audio and visual PLG labels, RL on both) retrained on the demo's
own stores with its audio labels from three sources, beside row ① (video labels only) and row ④
(the same CLIP visual labels and visual RL, no audio labels: the control that differs from row ⑥
on the audio side only):
  clap    the workflow's CLAP PLG labels (labels/plg/clap/train.npz), as row ⑥ trains;
  oracle  the demo world's own dense audio truth (every sounding second of the train clips),
          the labels a perfect CLAP would give;
  video   the video label copied to every segment (audio PLG that adds nothing).
If row ⑥ beats row ① on A with the oracle's labels but not with CLAP's, the trainer is sound and
the demo CLAP's labels are what holds row ⑥ back; whether row ⑥'s audio loss uses audio labels
well is row ⑥ against row ④: with the video label as audio labels it carries no more audio
information than row ④'s target, so it should not lose A to it. Settings and seeds: the run's
config (train, rl), HAN's training settings; prints test segment-level F, mean ± std over seeds.

    make demo && .venv/bin/python studies/audio_labels_or_code.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from vplan_core.data.dataset import labelled_ids, load_labels, load_split_data
from vplan_core.demo.clap_training import audio_truth
from vplan_core.demo.scenarios import load_scenarios
from vplan_core.evaluation.label_quality import segment_event_f
from vplan_core.feature_registry import HAN_FEATURES
from vplan_core.method.ablation import BASELINE_ROW, ROWS
from vplan_core.paths import RunPaths, demo_resources
from vplan_core.plan import train_settings
from vplan_core.training.trainer import TrainConfig, evaluate_seeds, train
from vplan_core.models.seed_batch import SeedBatch

FAMILY = "han"  # the parser family the demo trains every row with
AV_ROW = "row6_plg_av"
CONTROL_ROW = "row4_plg_rl"  # row ⑥'s visual side alone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--sources", default="clap,oracle,video")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as every workflow job (rules/common.smk JOB_THREADS): same numbers
    config = yaml.safe_load(Path(args.config).read_text())
    name = config["dataset"]["name"]
    paths = RunPaths(name)
    stores = {feature: paths.existing_stores(feature) for feature in HAN_FEATURES}
    # row 6's PLG labels: CLIP's visual ones, CLAP's audio ones
    visual_plg = paths.plg_labels(ROWS[AV_ROW].visual.feature, "train")
    audio_plg = paths.plg_labels(ROWS[AV_ROW].audio.feature, "train")
    only = labelled_ids(visual_plg) & labelled_ids(audio_plg)
    data = {split: load_split_data(config["dataset"]["annotations"], split, stores, only if split == "train" else None)
            for split in ("train", "val", "test")}
    ids = data["train"].split.video_ids
    by_id = {s["video_id"]: s for s in load_scenarios(Path(demo_resources(name)) / "scenarios.json")}
    oracle = np.stack([audio_truth(by_id[vid]) for vid in ids])
    weak = data["train"].split.weak_labels
    audio = {"clap": load_labels(audio_plg, ids), "oracle": oracle,
             "video": np.repeat(weak[:, None, :], oracle.shape[1], axis=1).astype(np.uint8)}
    for source, labels in audio.items():
        f = segment_event_f(labels, oracle)
        print(f"train audio labels {source}: segment F {f['segment_f']:.1f} against the dense audio truth")
    visual = load_labels(visual_plg, ids)
    test = data["test"]
    runs = [(BASELINE_ROW, None), (CONTROL_ROW, None)] + [(AV_ROW, s) for s in args.sources.split(",")]
    for row, source in runs:
        cfg = TrainConfig(**train_settings(config, ROWS[row].loss, FAMILY), seeds=config["train"]["seeds"])
        train_set = data["train"].training_set(visual if "visual" in ROWS[row].labels else None,
                                               None if source is None else audio[source])
        per_seed = train(cfg, train_set, data["val"].validation_set(), log=lambda _: None)
        batch = SeedBatch([r.model for r in per_seed])
        scores = [m["segment_level"] for m in evaluate_seeds(batch, test.features.to_tensors("cpu"),
                                                             test.split.gt_audio, test.split.gt_visual)]
        cells = {key: np.array([s[key] for s in scores]) for key in scores[0]}
        print(row, source or "", " ".join(f"{k} {v.mean():.1f} ± {v.std(ddof=1):.1f}" for k, v in cells.items()),
              flush=True)


if __name__ == "__main__":
    main()
