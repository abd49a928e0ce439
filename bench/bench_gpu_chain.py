"""The whole VPLAN chain, vplan trainer vs. a plain eager loop, on LLP-sized random data.

Chain: stage 1 (Eq. 9, 30 epochs, val eval on 649 videos each epoch) -> PLD pass over the 10,000
training videos -> stage 2 (30 epochs on the refined labels, val eval each epoch) -> test eval
on 1,200 videos. "vplan" is vplan_core.training (batch 32, features resident on the device,
vectorised eval); "eager" is the reference's loop shape with every feature already on the
device (batch 16, one Python step per batch, evaluation one video at a time as its batch-1
loader). NOT YET MEASURED ON A GPU: only smoke-tested on CPU with --scale small.

    python bench/bench_gpu_chain.py --device cuda                   # LLP sizes, both loops
    .venv/bin/python bench/bench_gpu_chain.py --device cpu --scale small   # smoke test
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from vplan_core.losses import compute_loss
from vplan_core.metrics import avvp_metrics, binarize
from vplan_core.pld import denoise, forward_loss_matrix
from vplan_core.training import Features, TrainConfig, build_model, predict, train

SCALES = {  # train, val, test videos; epochs per stage
    "llp": (10_000, 649, 1_200, 30),
    "small": (96, 24, 24, 2),
}


def random_split(n: int, rng: np.random.Generator) -> tuple[Features, np.ndarray, np.ndarray, np.ndarray]:
    """Features, weak labels, PLG-like segment labels and dense GT, official shapes."""
    f = Features([f"v{i:010d}" for i in range(n)],
                 rng.standard_normal((n, 10, 128), dtype=np.float32),
                 rng.standard_normal((n, 80, 2048), dtype=np.float32),
                 rng.standard_normal((n, 10, 512), dtype=np.float32))
    y = (rng.random((n, 25)) < 0.1).astype(np.uint8)
    seg = ((rng.random((n, 10, 25)) < 0.5) & y[:, None].astype(bool)).astype(np.uint8)
    gt = (rng.random((2, n, 10, 25)) < 0.05).astype(np.uint8)
    return f, y, seg, gt


class Timer:
    def __init__(self, device: torch.device):
        self.device, self.seconds = device, {}

    def __call__(self, name: str, fn: Callable, *args, **kwargs):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds[name] = time.perf_counter() - started
        return out


# ---- vplan trainer ----
def vplan_chain(config: TrainConfig, data: dict, timer: Timer) -> dict:
    (tr, y, seg, _), (va, _, _, gva), (te, _, _, gte) = data["train"], data["val"], data["test"]
    quiet = lambda _: None  # noqa: E731
    stage1 = timer("stage 1", train, config, tr, y, seg, va, gva[0], gva[1], log=quiet)
    refined = timer("PLD pass", lambda: denoise(forward_loss_matrix(
        predict(stage1.model, tr, device=config.device)["visual_prob"], seg), seg))
    stage2 = timer("stage 2", train, config, tr, y, refined, va, gva[0], gva[1], log=quiet)

    def test_eval():
        p = predict(stage2.model, te, device=config.device)
        return avvp_metrics(gte[0], gte[1], *binarize(p["audio_prob"], p["visual_prob"], p["video_prob"]))
    return timer("test eval", test_eval)


# ---- plain eager loop ----
def eager_predict(model, inputs) -> dict[str, np.ndarray]:
    """One video per forward pass, results copied to the host each time (the reference eval)."""
    model.eval()
    video, frame = [], []
    with torch.no_grad():
        for i in range(inputs[0].shape[0]):
            out = model(*(x[i:i + 1] for x in inputs))
            video.append(out[0].cpu().numpy())
            frame.append(out[3].cpu().numpy())
    frame_np = np.concatenate(frame)
    return {"video_prob": np.concatenate(video), "audio_prob": frame_np[:, :, 0],
            "visual_prob": frame_np[:, :, 1]}


def eager_eval(model, inputs, gt) -> dict:
    p = eager_predict(model, inputs)
    return avvp_metrics(gt[0], gt[1], *binarize(p["audio_prob"], p["visual_prob"], p["video_prob"]))


def eager_train(config: TrainConfig, inputs, y, seg, val_inputs, gt_val) -> torch.nn.Module:
    torch.manual_seed(config.seed)
    model = build_model(config, *inputs, num_classes=25).to(config.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step, config.lr_gamma)
    loss_cfg, best_f = config.loss_config(), -1.0
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(y), device=config.device)
        for start in range(0, len(y), 16):
            idx = order[start:start + 16]
            loss = compute_loss(config.loss, model(*(x[idx] for x in inputs)), y[idx], seg[idx], loss_cfg)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        score = eager_eval(model, val_inputs, gt_val)["segment_level"]["type_at_av"]
        if score >= best_f:
            best_f = score
            best = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best)
    return model


def eager_chain(config: TrainConfig, data: dict, timer: Timer) -> dict:
    dev = config.device
    (tr, y, seg, _), (va, _, _, gva), (te, _, _, gte) = data["train"], data["val"], data["test"]
    inputs, val_inputs = tr.to_tensors(dev), va.to_tensors(dev)
    y_t = torch.as_tensor(y, dtype=torch.float32, device=dev)
    seg_t = torch.as_tensor(seg, dtype=torch.float32, device=dev)
    m1 = timer("stage 1", eager_train, config, inputs, y_t, seg_t, val_inputs, gva)
    refined = timer("PLD pass", lambda: denoise(forward_loss_matrix(
        eager_predict(m1, inputs)["visual_prob"], seg), seg))
    seg2 = torch.as_tensor(refined, dtype=torch.float32, device=dev)
    m2 = timer("stage 2", eager_train, config, inputs, y_t, seg2, val_inputs, gva)
    return timer("test eval", eager_eval, m2, te.to_tensors(dev), gte)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--scale", choices=sorted(SCALES), default="llp")
    ap.add_argument("--epochs", type=int, help="per stage (default: the scale's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-eager", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    n_train, n_val, n_test, epochs = SCALES[args.scale]
    rng = np.random.default_rng(0)
    data = {name: random_split(n, rng) for name, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    config = TrainConfig(loss="plg_rl", epochs=args.epochs or epochs, device=args.device)
    device = torch.device(args.device)

    timers = {"vplan (batch 32)": Timer(device)}
    vplan_chain(config, data, timers["vplan (batch 32)"])
    if not args.skip_eager:
        timers["eager (batch 16)"] = Timer(device)
        eager_chain(config, data, timers["eager (batch 16)"])

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    print(f"{name}: {n_train} train / {n_val} val / {n_test} test videos, {config.epochs} epochs a stage\n")
    stages = list(next(iter(timers.values())).seconds)
    print("| loop | " + " | ".join(stages) + " | total (s) |")
    print("|---|" + "---|" * (len(stages) + 1))
    for loop, timer in timers.items():
        cells = " | ".join(f"{timer.seconds[s]:.1f}" for s in stages)
        print(f"| {loop} | {cells} | {sum(timer.seconds.values()):.1f} |")


if __name__ == "__main__":
    main()
