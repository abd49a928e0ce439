"""Which term of row ⑥'s loss costs A? Row ⑥ differs from row ④ (the same CLIP visual labels and
visual RL) on the audio side in two terms: p^a's target becomes the audio labels' video level
max_t Ŷ^a instead of the video label, and λ·L_RL is added on P^a against Ŷ^a (its CR and its SR
term). Each is added to row ④ alone here, the target with SR alone (row ⑥ without CR), and
VALOR's audio term (a segment BCE of P^a against Ŷ^a) in place of the audio RL, trained on the demo's own stores with two audio label sources:
  oracle  the demo world's dense audio truth (what a perfect CLAP would give);
  video   the video label copied to every second (row ④'s audio target, as segment labels).
The variants are study-only loss kinds, registered here from method/losses.py's terms; the
seeds, settings and test split are the run's (config train, rl), as in audio_labels_or_code.py.
Prints test segment-level A, V and Type@AV, mean ± std over seeds.

    make demo && .venv/bin/python studies/audio_loss_terms.py [--sources oracle,video]
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
from vplan_core.feature_registry import HAN_FEATURES
from vplan_core.method import losses
from vplan_core.method.ablation import LOSS_KINDS, ROWS, LossKind
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.paths import RunPaths, demo_resources
from vplan_core.plan import train_settings
from vplan_core.training.trainer import TrainConfig, evaluate_seeds, train

FAMILY = "han"
CONTROL_ROW, AV_ROW = "row4_plg_rl", "row6_plg_av"
AUDIO = losses.AUDIO


def _audio_target(outputs, y, audio_seg):
    """BCE(p^a, max_t Ŷ^a) - BCE(p^a, y): row ⑥'s audio target in place of row ④'s."""
    pa = losses.clamp_prob(outputs[1])
    return losses.bce(pa, audio_seg.amax(dim=1)) - losses.bce(pa, y)


def _audio_richness_terms(outputs, audio_seg, cfg):
    """(CR term, SR term) of L_RL on P^a against Ŷ^a."""
    return losses.richness_terms(outputs, audio_seg, cfg, AUDIO)


def _row4(outputs, y, seg, cfg):
    return losses.richness_aware_loss(outputs, y, seg, cfg)


VARIANTS = {  # name -> row ④'s loss plus these audio terms (outputs, y, seg, audio_seg, cfg)
    "row4+audio_target": lambda o, y, s, a, c: _row4(o, y, s, c) + _audio_target(o, y, a),
    "row4+audio_rl": lambda o, y, s, a, c: _row4(o, y, s, c) + c.rl_lambda * sum(_audio_richness_terms(o, a, c)),
    "row4+audio_cr": lambda o, y, s, a, c: _row4(o, y, s, c) + c.rl_lambda * _audio_richness_terms(o, a, c)[0],
    "row4+audio_sr": lambda o, y, s, a, c: _row4(o, y, s, c) + c.rl_lambda * _audio_richness_terms(o, a, c)[1],
    "row4+audio_target+audio_sr": lambda o, y, s, a, c: (
        _row4(o, y, s, c) + _audio_target(o, y, a) + c.rl_lambda * _audio_richness_terms(o, a, c)[1]),
    "row4+audio_target+audio_segbce": lambda o, y, s, a, c: (
        _row4(o, y, s, c) + _audio_target(o, y, a)
        + c.rl_lambda * losses.bce(losses.clamp_prob(o[3][:, :, AUDIO, :]), a)),
}


def register_variants() -> None:
    """Study-only loss kinds: they read row ⑥'s constants and both modalities' labels."""
    for name, fn in VARIANTS.items():
        LOSS_KINDS[name] = LossKind(fn, LOSS_KINDS[ROWS[AV_ROW].loss].constants, ("visual", "audio"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--sources", default="oracle,video")
    ap.add_argument("--variants", default=",".join(["row6", *VARIANTS]))
    args = ap.parse_args()
    torch.set_num_threads(1)  # as every workflow job: the same numbers
    register_variants()
    config = yaml.safe_load(Path(args.config).read_text())
    name = config["dataset"]["name"]
    paths = RunPaths(name)
    stores = {feature: paths.existing_stores(feature) for feature in HAN_FEATURES}
    visual_plg = paths.plg_labels(ROWS[AV_ROW].visual.feature, "train")
    only = labelled_ids(visual_plg)
    data = {split: load_split_data(config["dataset"]["annotations"], split, stores, only if split == "train" else None)
            for split in ("train", "val", "test")}
    ids = data["train"].split.video_ids
    by_id = {s["video_id"]: s for s in load_scenarios(Path(demo_resources(name)) / "scenarios.json")}
    oracle = np.stack([audio_truth(by_id[vid]) for vid in ids])
    weak = data["train"].split.weak_labels
    audio = {"oracle": oracle, "video": np.repeat(weak[:, None, :], oracle.shape[1], axis=1).astype(np.uint8)}
    visual = load_labels(visual_plg, ids)
    test = data["test"]

    def run(kind: str, audio_labels) -> str:
        cfg = TrainConfig(**train_settings(config, kind, FAMILY), seeds=config["train"]["seeds"])
        per_seed = train(cfg, data["train"].training_set(visual, audio_labels), data["val"].validation_set(),
                         log=lambda _: None)
        scores = [m["segment_level"] for m in evaluate_seeds(SeedBatch([r.model for r in per_seed]),
                                                             test.features.to_tensors("cpu"),
                                                             test.split.gt_audio, test.split.gt_visual)]
        return " ".join(f"{key} {np.mean([s[key] for s in scores]):.1f} ± {np.std([s[key] for s in scores], ddof=1):.1f}"
                        for key in ("audio", "visual", "type_at_av"))

    print("row4 (control)", run(ROWS[CONTROL_ROW].loss, None), flush=True)
    for source in args.sources.split(","):
        for variant in args.variants.split(","):
            kind = ROWS[AV_ROW].loss if variant == "row6" else variant
            print(source, variant, run(kind, audio[source]), flush=True)


if __name__ == "__main__":
    main()
