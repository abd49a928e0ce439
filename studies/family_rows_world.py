"""Do a parser family's rows ②, ④ and ⑤ beat its row ① in the LLP-shaped world, and does that depend
on what the richness-aware loss reads as the family's segment probabilities?

Trains rows ① (the family's own loss), ② (PLG), ④ (PLG + RL) and ⑤ (PLD + RL) of one family in
studies/llp_world.py's world, with the config's seeds and the family's training settings (config
models.<family>, its official recipe, batch size included, unless --epochs / --lr-step /
--batch-size set a budget, the same for every row), and prints each epoch's val line, test
segment-level A / V / Type@AV (mean ± std over seeds) and the train labels' visual segment F.

Row ⑤'s labels are PLD's by the row-④ models that the config's models.<family>.pld_source names,
as in the workflow: by default each seed's HAN row-④ model (trained here first, at the HAN
studies' batch size), as the paper's Table V did; `pld_source: own` (in a config) uses the
family's own row ④, which --rows must then list first.

--frame-map says what the RL (and PLD's forward loss) read as P^v: `family` (the family's frame
probabilities, models.frame_probabilities: for MGN, whose frame outputs lie in [0, 2), its
frame_probability), `raw` (the frame outputs as they are, as before 2026-12-05) or `where` (MGN's
frame_probability with no gradient to its class probability: the RL moves only the temporal weights).

    .venv/bin/python studies/family_rows_world.py --family mgn --epochs 20 --lr-step 20 [--frame-map where]
    .venv/bin/python studies/family_rows_world.py --family mm_pyramid --epochs 8
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from llp_world import BATCH_SIZE, make_world
from vplan_core.evaluation.label_quality import segment_event_f
from vplan_core.method.ablation import ROWS
from vplan_core.method.pld import denoise, forward_loss_matrix
from vplan_core.models import family as family_of
from vplan_core.models.mgn import PROB_FLOOR
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.plan import pld_source_model, train_settings
from vplan_core.training.refinement import stage1_prob
from vplan_core.training.trainer import TrainConfig, evaluate_seeds, train

def read_frames_raw(family_name: str) -> None:
    """Make the family's losses and PLD read its frame outputs as they are (the `raw` map)."""
    model_class = family_of(family_name).model_class
    if hasattr(model_class, "frame_probability"):
        model_class.frame_probability = None


def read_frames_where_only(family_name: str) -> None:
    """Make the family's frame_probability carry no gradient to its class probability p (the
    `where` map): the same values, but the RL can move only where a class is (MGN's temporal
    weights s), not whether it is."""
    model_class = family_of(family_name).model_class
    to_probability = getattr(model_class, "frame_probability", None)
    if to_probability is None:
        raise SystemExit(f"--frame-map where: {family_name}'s frame outputs are read as they are")

    def where_only(self, outputs):
        class_prob = torch.stack(outputs[1:3], dim=-2).unsqueeze(-3)
        return class_prob.detach() * to_probability(self, outputs) / class_prob.clamp_min(PROB_FLOOR)

    model_class.frame_probability = where_only


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--llp", default="../shared/llp")
    ap.add_argument("--family", default="han")
    ap.add_argument("--frame-map", choices=("family", "raw", "where"), default="family")
    ap.add_argument("--rows", default="row1_han,row2_plg,row4_plg_rl,row5_vplan")
    ap.add_argument("--epochs", type=int, help="instead of the family's (a budget: every row the same)")
    ap.add_argument("--lr-step", type=int, help="instead of the family's StepLR step, in epochs (a budget too)")
    ap.add_argument("--batch-size", type=int, help=f"instead of the family's (the HAN studies': {BATCH_SIZE})")
    ap.add_argument("--device", default="cpu", help="e.g. cuda: MGN's rows need hours of CPU here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load(Path(args.config).read_text())
    world = make_world(args.llp)
    splits, clip = world.splits, world.clip_labels
    gt_visual = splits["train"].split.gt_visual
    test = splits["test"]
    print(f"family {args.family} seeds {config['train']['seeds']}; train labels' visual segment F: "
          f"PLG {segment_event_f(clip, gt_visual)['segment_f']:.1f}", flush=True)

    def run(kind: str, labels, family: str, budget: dict) -> SeedBatch:
        started = time.perf_counter()
        settings = {**train_settings(config, kind, family), **budget}
        cfg = TrainConfig(**settings, seeds=config["train"]["seeds"], device=args.device)
        per_seed = train(cfg, splits["train"].training_set(labels), splits["val"].validation_set(),
                         log=lambda line: print("    " + line, flush=True))
        batch = SeedBatch([r.model for r in per_seed])
        scores = [m["segment_level"] for m in evaluate_seeds(batch, test.features.to_tensors("cpu"),
                                                             test.split.gt_audio, test.split.gt_visual)]
        print("  " + " ".join(f"{key} {np.mean([s[key] for s in scores]):.1f} ± {np.std([s[key] for s in scores], ddof=1):.1f}"
                              for key in ("audio", "visual", "type_at_av")) + f" ({time.perf_counter() - started:.0f} s)",
              flush=True)
        return batch

    budget = {key: value for key, value in (("epochs", args.epochs), ("lr_step", args.lr_step),
                                            ("batch_size", args.batch_size)) if value}
    pld_source = pld_source_model(config, args.family)
    if args.frame_map == "raw":
        read_frames_raw(args.family)
    elif args.frame_map == "where":
        read_frames_where_only(args.family)
    stage1 = None
    for row in args.rows.split(","):
        kind = ROWS[row].loss
        if row == "row5_vplan":
            if pld_source != args.family:  # the product's default: HAN's row-④ models refine the labels
                print(f"row4_plg_rl of {pld_source} (PLD's stage 1, at the HAN studies' batch {BATCH_SIZE})", flush=True)
                stage1 = run(ROWS["row4_plg_rl"].loss, clip, pld_source, {"batch_size": BATCH_SIZE})
            elif stage1 is None:
                raise SystemExit("row5_vplan with pld_source own needs row4_plg_rl first in --rows")
            prob = stage1_prob(stage1, splits["train"].features)
            refined = denoise(forward_loss_matrix(prob, clip), clip, k=config["pld"]["k"], alpha=config["pld"]["alpha"])
            f = [segment_event_f(r, gt_visual)["segment_f"] for r in refined]
            print(f"{row} [{args.frame_map}] PLD by {pld_source}'s row ④: labels' segment F "
                  f"{np.mean(f):.1f} ± {np.std(f, ddof=1):.1f}", flush=True)
            run(kind, refined, args.family, budget)
            continue
        print(f"{row} [{args.frame_map}]", flush=True)
        batch = run(kind, None if kind == "han" else clip, args.family, budget)
        if row == "row4_plg_rl":
            stage1 = batch


if __name__ == "__main__":
    main()
