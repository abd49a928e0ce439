"""The whole VPLAN chain on LLP-sized random features: the plain eager loop vs the vplan trainer.

Chain (method.md): stage 1 = row ④ (Eq. 9), --epochs epochs with a val pass (649 videos) after
each -> PLD over the 10,000 training videos -> stage 2 = row ⑤ on the refined labels, same
schedule -> test prediction (1,200 videos) and the ten metrics. Official shapes (10×128,
80×2048, 10×512), d_model 512, batch 32. Ways, side by side in one run, for each S in --seeds:
  plain          the trainer as vplan had it before seed batching: one seed at a time, an
                 eager nn.Module HAN, Python step per batch, vectorised val; S seeds = S runs
                 one after another. --plain-epochs < --epochs times that many epochs a stage
                 and scales the stage times linearly (marked "extrapolated").
  vplan          vplan_core.training.trainer.train: the S seeds as one SeedBatch (vmap), eager.
  vplan+compile  the same with train.compile (torch.compile of the step; on GPUs).
Targets (issue "Several seeds for the price of one"): one seed <= 60 s on one H200, five seeds
<= 2x one seed. Print versions first; the whole default run is sized for a 10-minute command.
--model mgn / mm_pyramid runs the same chain with that parser family and its official recipe
from config/llp.yaml (batch 16, its own epochs unless --epochs; the plain loop is HAN's only).

    python bench/bench_gpu_chain.py --device cuda                                   # H200
    python bench/bench_gpu_chain.py --device cuda --model mgn --ways vplan,vplan+compile --epochs 4
    .venv/bin/python bench/bench_gpu_chain.py --device cpu --scale small --seeds 1,2   # smoke test
"""
from __future__ import annotations

import argparse
import copy
import platform
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
from vplan_core.models import DEFAULT_FAMILY, FAMILIES
from vplan_core.plan import train_settings
from vplan_core.training.trainer import TrainConfig, initial_model, train

PLAIN_LOOP_FAMILY = "han"  # the reference loop (AVVP-ECCV20's main_avvp.py) trains HAN

LLP_CONFIG = Path(__file__).resolve().parents[1] / "config/llp.yaml"

SCALES = {  # train, val, test videos; epochs per stage
    "llp": (10_000, 649, 1_200, 30),
    "small": (96, 24, 24, 2),
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
def vplan_chain(config: TrainConfig, data: dict, timer: Timer) -> None:
    (tr, y, seg, _), (va, _, _, gva), (te, _, _, gte) = data["train"], data["val"], data["test"]
    quiet = lambda _: None  # noqa: E731
    val = ValidationSet(va, gva[0], gva[1])
    stage1 = timer("stage 1", train, config, TrainingSet(tr, y, seg), val, log=quiet)

    def pld():
        batch = SeedBatch([r.model for r in stage1]).to(config.device)
        return refine_labels(batch, tr, seg, DEFAULT_K, DEFAULT_ALPHA, config.device)[0]

    refined = timer("PLD", pld)
    stage2 = timer("stage 2", train, config, TrainingSet(tr, y, refined), val, log=quiet)

    def test():
        batch = SeedBatch([r.model for r in stage2]).to(config.device)
        pred = predict_seeds(batch, te.to_tensors(config.device))
        return [scores({k: v[s] for k, v in pred.items()}, gte) for s in range(batch.num_seeds)]

    timer("test", test)


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
    ap.add_argument("--epochs", type=int, help="per stage (default: the scale's)")
    ap.add_argument("--plain-epochs", type=int, default=3,
                    help="epochs a stage the plain loop really runs (times scaled to --epochs)")
    ap.add_argument("--seeds", default="1,5", help="comma-separated seed counts S")
    ap.add_argument("--ways", default="plain,vplan,vplan+compile")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=DEFAULT_FAMILY, choices=tuple(FAMILIES),
                    help="the parser family, with its recipe from config/llp.yaml")
    args = ap.parse_args()
    if args.model != PLAIN_LOOP_FAMILY and "plain" in args.ways.split(","):
        ap.error(f"the plain loop trains {PLAIN_LOOP_FAMILY}: use --ways vplan,vplan+compile for another family")
    recipe = train_settings(yaml.safe_load(LLP_CONFIG.read_text()), "plg_rl", args.model)

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
          f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else f'cpu ({args.threads} threads)'}")
    n_train, n_val, n_test, default_epochs = SCALES[args.scale]
    if args.scale == "llp" and args.model != PLAIN_LOOP_FAMILY:
        default_epochs = recipe["epochs"]
    epochs = args.epochs or default_epochs
    plain_epochs = min(args.plain_epochs, epochs)
    rng = np.random.default_rng(0)
    data = {name: random_split(n, rng) for name, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    print(f"{n_train} train / {n_val} val / {n_test} test videos, {epochs} epochs a stage, model {args.model}, "
          f"batch {recipe['batch_size']}, lr {recipe['lr']:g}\n")

    rows = []
    for n_seeds in (int(s) for s in args.seeds.split(",")):
        for way in args.ways.split(","):
            config = TrainConfig(**{**recipe, "epochs": epochs}, seeds=range(n_seeds), device=args.device,
                                 compile=way == "vplan+compile")
            timer = Timer(device)
            started = time.perf_counter()
            if way == "plain":
                plain_chain(config, data, timer, plain_epochs)
                scale = epochs / plain_epochs
                for stage in ("stage 1", "stage 2"):
                    timer.seconds[stage] *= scale
                note = f"extrapolated from {plain_epochs} epochs" if plain_epochs < epochs else "measured"
            else:
                vplan_chain(config, data, timer)
                note = "measured"
            rows.append((way, n_seeds, timer.seconds, sum(timer.seconds.values()), note,
                         time.perf_counter() - started))
            print(f"{way} S={n_seeds}: {sum(timer.seconds.values()):.1f} s ({note})", flush=True)

    phases = ["stage 1", "PLD", "stage 2", "test"]
    print("\n| way | S | " + " | ".join(phases) + " | chain (s) | | wall of this row (s) |")
    print("|---|---|" + "---|" * (len(phases) + 3))
    for way, n_seeds, seconds, total, note, wall in rows:
        cells = " | ".join(f"{seconds.get(p, 0.0):.1f}" for p in phases)
        print(f"| {way} | {n_seeds} | {cells} | {total:.1f} | {note} | {wall:.1f} |")
    totals = {(way, s): total for way, s, _, total, _, _ in rows}
    for way in args.ways.split(","):
        counts = sorted(s for w, s in totals if w == way)
        if len(counts) > 1:
            print(f"{way}: S={counts[-1]} / S={counts[0]} = {totals[(way, counts[-1])] / totals[(way, counts[0])]:.2f}")


if __name__ == "__main__":
    main()
