"""The whole VPLAN chain on LLP-sized random features: the plain eager loop vs the vplan trainer.

Chain (method.md): stage 1 = row ④ (Eq. 9), --epochs epochs with a val pass (649 videos) after
each -> PLD over the training videos -> stage 2 = row ⑤ on the refined labels, same schedule ->
test prediction (1,200 videos) and the ten metrics. Official shapes (10×128, 80×2048, 10×512),
each family with its recipe from config/llp.yaml (HAN: d_model 512, batch 32; MGN and
MM-Pyramid: batch 16, their official widths, their own epochs unless --epochs). Ways:
  plain          the trainer as vplan had it before seed batching: one seed at a time, an
                 eager nn.Module HAN, Python step per batch, vectorised val; S seeds = S runs
                 one after another. --plain-epochs < --epochs times that many epochs a stage
                 and scales the stage times linearly (marked "extrapolated"). HAN only.
  vplan          vplan_core.training.trainer.train: the S seeds as one SeedBatch (vmap), eager.
  vplan+compile  the same with train.compile (the whole step compiled; CUDA graphs on a GPU).
A vplan chain uploads each split once (training/resident.py; only the frame means a family
reads), timed as its "upload" phase. Variants run family by family, and within a family S
alternates (S=1, S=5 for one way, then the other way), so S=5 is never left for last; a variant
whose stage 1 overran --budget seconds skips PLD and stage 2 (reported), so that no variant
starves the ones after it. Per variant: the phases' seconds, each stage's first epoch (warm-up and
compile) apart, and the median of the later epochs (steady state, its val pass included),
one JSON line each, then a table.
Targets (issue 27): a HAN epoch on 10k videos <= 0.5 s at S=1, S=5 <= 2x S=1, MGN and MM-Pyramid
<= 3 s an epoch.

    python bench/bench_gpu_chain.py --device cuda                                    # H200
    python bench/bench_gpu_chain.py --device cuda --scale gpu-quick --budget 20      # ~3 minutes
    .venv/bin/python bench/bench_gpu_chain.py --device cpu --scale small --seeds 1,2   # smoke test
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml

from vplan_core.data.dataset import Features, TrainingSet, ValidationSet
from vplan_core.method.losses import compute_loss
from vplan_core.evaluation.metrics import avvp_metrics, binarize
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.method.pld import DEFAULT_ALPHA, DEFAULT_K, denoise, forward_loss_matrix
from vplan_core.training.refinement import refine_labels
from vplan_core.training.prediction import predict, predict_seeds
from vplan_core.training.resident import Resident
from vplan_core.models import family
from vplan_core.plan import train_settings
from vplan_core.training.trainer import TrainConfig, initial_model, train

PLAIN_LOOP_FAMILY = "han"  # the reference loop (AVVP-ECCV20's main_avvp.py) trains HAN

LLP_CONFIG = Path(__file__).resolve().parents[1] / "config/llp.yaml"

SCALES = {  # train, val, test videos; epochs per stage (None: the family's recipe)
    "llp": (10_000, 649, 1_200, None),
    "gpu-quick": (2_000, 649, 1_200, 3),  # steady-state epochs of every variant in one short call
    "small": (96, 24, 24, 3),
}


def random_split(n: int, rng: np.random.Generator) -> tuple[Features, np.ndarray, np.ndarray, np.ndarray]:
    """Features, weak labels, PLG-like segment labels and dense GT [2, n, T, C], official shapes."""
    f = Features([f"v{i:010d}" for i in range(n)],
                 rng.standard_normal((n, 10, 128), dtype=np.float32),
                 rng.standard_normal((n, 80, 2048), dtype=np.float32),
                 rng.standard_normal((n, 10, 512), dtype=np.float32))
    y = (rng.random((n, 25)) < 0.1).astype(np.uint8)
    seg = ((rng.random((n, 10, 25)) < 0.5) & y[:, None].astype(bool)).astype(np.uint8)
    gt = (rng.random((2, n, 10, 25)) < 0.05).astype(np.uint8)
    return f, y, seg, gt


class Timer:
    """Wall seconds of named phases, the device synchronised before and after each."""

    def __init__(self, device: torch.device):
        self.device, self.seconds = device, {}

    def __call__(self, name: str, fn: Callable, *args, **kwargs):
        sync(self.device)
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        sync(self.device)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def scores(pred: dict, gt: np.ndarray) -> dict:
    return avvp_metrics(gt[0], gt[1], *binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"]))


# ---- the vplan trainer: S seeds as one batch ----
def vplan_chain(config: TrainConfig, data: dict, timer: Timer, budget: float) -> list[list[float]]:
    """Times the chain's phases; returns each stage's epoch seconds (each stage compiles its own
    step in its first epoch). The splits go to the device once, shared by both trainings, PLD
    and the test."""
    (tr, y, seg, _), (va, _, _, gva), (te, _, _, gte) = data["train"], data["val"], data["test"]
    quiet = lambda _: None  # noqa: E731
    val = ValidationSet(va, gva[0], gva[1])
    resident, means = Resident(config.device), family(config.model).frame_means
    timer("upload", lambda: [resident(f, means) for f in (tr, va, te)])
    stage1 = timer("stage 1", train, config, TrainingSet(tr, y, seg), val, log=quiet, resident=resident)
    epochs = [[h["seconds"] for h in stage1[0].history]]
    if timer.seconds["stage 1"] > budget:
        return epochs

    def pld():
        batch = SeedBatch([r.model for r in stage1]).to(config.device)
        return refine_labels(batch, tr, seg, DEFAULT_K, DEFAULT_ALPHA, config.device, inputs=resident(tr, means))[0]

    refined = timer("PLD", pld)
    stage2 = timer("stage 2", train, config, TrainingSet(tr, y, refined), val, log=quiet, resident=resident)

    def test():
        batch = SeedBatch([r.model for r in stage2]).to(config.device)
        pred = predict_seeds(batch, resident(te, means))
        return [scores({k: v[s] for k, v in pred.items()}, gte) for s in range(batch.num_seeds)]

    timer("test", test)
    return epochs + [[h["seconds"] for h in stage2[0].history]]


# ---- the plain loop: one eager nn.Module per seed, as vplan trained before seed batching ----
def plain_train(config: TrainConfig, seed: int, inputs, y, seg, val: Features, gt_val, epochs: int):
    model = initial_model(config, inputs, 25, seed).to(config.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step, config.lr_gamma)
    generator, best_score, best = torch.Generator().manual_seed(seed), -1.0, None
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator).to(config.device)
        for start in range(0, len(y), config.batch_size):
            idx = order[start:start + config.batch_size]
            loss = compute_loss(model(*(x[idx] for x in inputs)), y[idx], seg[idx], config.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        score = scores(predict(model, val, device=config.device), gt_val)["segment_level"]["type_at_av"]
        if score >= best_score:
            best_score, best = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    return model.eval()


def plain_chain(config: TrainConfig, data: dict, timer: Timer, epochs: int) -> None:
    dev = config.device
    (tr, y, seg, _), (va, _, _, gva), (te, _, _, gte) = data["train"], data["val"], data["test"]
    inputs = tr.to_tensors(dev)
    y_t = torch.as_tensor(y, dtype=torch.float32, device=dev)
    for seed in config.seeds:  # separate runs, one after another
        seg_t = torch.as_tensor(seg, dtype=torch.float32, device=dev)
        m1 = timer("stage 1", plain_train, config, seed, inputs, y_t, seg_t, va, gva, epochs)
        refined = timer("PLD", lambda: denoise(forward_loss_matrix(
            predict(m1, tr, device=dev)["visual_prob"], seg), seg))
        seg2 = torch.as_tensor(refined, dtype=torch.float32, device=dev)
        m2 = timer("stage 2", plain_train, config, seed, inputs, y_t, seg2, va, gva, epochs)
        timer("test", lambda: scores(predict(m2, te, device=dev), gte))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--scale", choices=sorted(SCALES), default="llp")
    ap.add_argument("--epochs", type=int, help="per stage (default: the scale's, or the family's recipe)")
    ap.add_argument("--plain-epochs", type=int, default=3,
                    help="epochs a stage the plain loop really runs (times scaled to --epochs)")
    ap.add_argument("--seeds", default="1,5", help="comma-separated seed counts S")
    ap.add_argument("--ways", default="vplan,vplan+compile", help="plain (HAN only), vplan, vplan+compile")
    ap.add_argument("--models", default=",".join(yaml.safe_load(LLP_CONFIG.read_text())["train"]["models"]),
                    help="parser families (default: config/llp.yaml's train.models), recipes from that config")
    ap.add_argument("--budget", type=float, default=float("inf"),
                    help="seconds of stage 1 after which a variant skips PLD and stage 2")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    config_yaml = yaml.safe_load(LLP_CONFIG.read_text())

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    print(f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, device {name}")
    n_train, n_val, n_test, scale_epochs = SCALES[args.scale]
    rng = np.random.default_rng(0)
    data = {split: random_split(n, rng) for split, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    print(f"{n_train} train / {n_val} val / {n_test} test videos\n", flush=True)

    variants = [(model, way, int(n_seeds)) for model in args.models.split(",") for way in args.ways.split(",")
                for n_seeds in args.seeds.split(",") if way != "plain" or model == PLAIN_LOOP_FAMILY]
    rows = []
    for model, way, n_seeds in variants:
        recipe = train_settings(config_yaml, "plg_rl", model)
        epochs = args.epochs or scale_epochs or recipe["epochs"]
        config = TrainConfig(**{**recipe, "epochs": epochs}, seeds=range(n_seeds), device=args.device,
                             compile=way == "vplan+compile")
        timer = Timer(device)
        started = time.perf_counter()
        if way == "plain":
            plain_epochs = min(args.plain_epochs, epochs)
            plain_chain(config, data, timer, plain_epochs)
            for stage in ("stage 1", "stage 2"):
                timer.seconds[stage] *= epochs / plain_epochs
            note, stages = (f"extrapolated from {plain_epochs} epochs" if plain_epochs < epochs else "measured"), []
        else:
            stages = vplan_chain(config, data, timer, args.budget)
            note = "measured" if "stage 2" in timer.seconds else "over budget: PLD and stage 2 skipped"
        steady = [s for stage in stages for s in stage[1:]]  # each stage's first epoch is its warm-up
        row = {"model": model, "way": way, "seeds": n_seeds, "epochs": epochs, "batch": config.batch_size,
               "phases_s": {k: round(v, 2) for k, v in timer.seconds.items()},
               "chain_s": round(sum(timer.seconds.values()), 2), "note": note,
               "first_epoch_s": [round(stage[0], 3) for stage in stages],
               "epoch_s_median": round(statistics.median(steady), 3) if steady else None,
               "epoch_s_per_10k": round(statistics.median(steady) * 10_000 / n_train, 2) if steady else None,
               "wall_s": round(time.perf_counter() - started, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    phases = ["upload", "stage 1", "PLD", "stage 2", "test"]
    print("\n| family | way | S | " + " | ".join(phases) + " | chain (s) | first epochs (s) | epoch (s, median) "
          "| epoch per 10k videos (s) | |")
    print("|---|---|---|" + "---|" * (len(phases) + 5))
    for r in rows:
        cells = " | ".join(f"{r['phases_s'].get(p, 0.0):.1f}" for p in phases)
        print(f"| {r['model']} | {r['way']} | {r['seeds']} | {cells} | {r['chain_s']:.1f} | {' / '.join(map(str, r['first_epoch_s']))} | "
              f"{r['epoch_s_median']} | {r['epoch_s_per_10k']} | {r['note']} |")
    for model, way in {(r["model"], r["way"]) for r in rows}:
        mine = sorted((r["seeds"], r["epoch_s_median"]) for r in rows if (r["model"], r["way"]) == (model, way))
        if len(mine) > 1 and mine[0][1] and mine[-1][1]:
            print(f"{model} {way}: epoch S={mine[-1][0]} / S={mine[0][0]} = {mine[-1][1] / mine[0][1]:.2f}")


if __name__ == "__main__":
    main()
