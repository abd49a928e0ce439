"""Milliseconds and aten ops per training step of each parser family, eager vs train.compile, S = 1 and 5.

One step = what train_one_epoch does per batch: draw each seed's dropout noise, then the step of
vplan_core.training.step (forward, loss of row ④, backward, Adam). Random features resident on
the device, full batches of the family's recipe size (HAN 32, MGN and MM-Pyramid 16). Per
variant (family, S, way): the first step (the compile, for a compiled one) is timed apart, then
variants take turns (round-robin, so that drift hits all alike) running --block steps each, until
every variant has --blocks blocks or its --budget seconds are spent; ms/step is the median block's.
Ops: leaf aten ops of one eager step under torch.profiler (CPU), all and without views and
allocations ("compute"). One JSON line a variant, then a table.

    .venv/bin/python bench/bench_train_steps.py --size quick --threads 2              # CPU, tiny widths
    .venv/bin/python bench/bench_train_steps.py --size llp --ways eager --blocks 1    # ops at the recipes' sizes
    python bench/bench_train_steps.py --device cuda --size llp                        # one GPU
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass

import torch
from torch.profiler import ProfilerActivity, profile

from vplan_core.method.losses import LossConfig
from vplan_core.models import family
from vplan_core.models.inputs import segment_means
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.step import Step, new_optimizer
from vplan_core.training.trainer import TrainConfig, initial_model, stream_seed

SIZES = {  # feature dims (audio, 2D frames, 3D), train.* and constructor arguments per family
    "quick": dict(dims=(16, 32, 16), train={"han": {"d_model": 32}}, kwargs={
        "mgn": {"dim": 16, "depth_aud": 1, "depth_vis": 1, "depth_av": 1, "num_heads": 2},
        "mm_pyramid": {"hidden_dim": 16, "ffn_dim": 16, "levels": 2, "nhead": 2}}),
    "llp": dict(dims=(128, 2048, 512), train={"han": {"d_model": 512}}, kwargs={
        "mgn": {"dim": 128, "depth_aud": 3, "depth_vis": 3, "depth_av": 6, "num_heads": 8, "drop_path": 0.1},
        "mm_pyramid": {"hidden_dim": 512, "levels": 4, "nhead": 8, "dropout": 0.2}}),
}
BATCH = {"han": 32, "mgn": 16, "mm_pyramid": 16}  # config/llp.yaml's recipes
BATCHES = 4  # distinct full batches the steps cycle through
VIEWS = {"aten::view", "aten::reshape", "aten::_reshape_alias", "aten::as_strided", "aten::t", "aten::transpose",
         "aten::expand", "aten::slice", "aten::select", "aten::unsqueeze", "aten::squeeze", "aten::permute",
         "aten::detach", "aten::alias", "aten::unbind", "aten::split", "aten::chunk", "aten::narrow",
         "aten::diagonal", "aten::_unsafe_view", "aten::lift_fresh", "aten::empty", "aten::empty_like",
         "aten::empty_strided", "aten::resolve_conj", "aten::resolve_neg", "aten::result_type", "aten::to",
         "aten::_to_copy", "aten::is_nonzero", "aten::item", "aten::_local_scalar_dense", "aten::unflatten",
         "aten::flatten", "aten::movedim", "aten::view_as", "aten::expand_as", "aten::split_with_sizes",
         "aten::contiguous"}


def count_ops(fn) -> dict:
    """Leaf aten ops (no aten op under them) that fn runs, all and compute only."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    leaves = [e for e in prof.events() if e.name.startswith("aten::")
              and not any(c.name.startswith("aten::") for c in e.cpu_children)]
    return {"aten_ops": len(leaves), "compute_ops": sum(e.name not in VIEWS for e in leaves)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Variant:
    name: dict
    step: Step
    noise: list[torch.Generator]
    idx: torch.Tensor  # [BATCHES, S, B]
    blocks: list[float]
    spent: float = 0.0
    calls: int = 0

    def __call__(self) -> None:
        idx = self.idx[self.calls % BATCHES]
        self.calls += 1
        size = self.step.batch.noise_size(idx.shape[1], 10)
        noise = (torch.stack([torch.rand(size, generator=g, device=idx.device) for g in self.noise])
                 if size else None)
        self.step(idx, noise)


def variant(model: str, n_seeds: int, way: str, size: dict, data, device: torch.device) -> Variant:
    """A fresh run of one family, S and way on data = (frames, labels, segment labels), whose
    step reads what the trainer keeps resident (the frame means, for a family that reads them)."""
    inputs, y, seg = data
    audio, frames, visual_3d = inputs
    resident = (audio, segment_means(frames, 10, 8), visual_3d) if family(model).frame_means else inputs
    config = TrainConfig(loss=LossConfig("plg_rl"), seeds=range(n_seeds), batch_size=BATCH[model], model=model,
                         model_kwargs=size["kwargs"].get(model, {}), device=str(device),
                         compile=way == "compiled", **size["train"].get(model, {}))
    batch = SeedBatch([initial_model(config, inputs, 25, s) for s in config.seeds]).to(device)
    optimizer = new_optimizer(batch, config)
    step = Step(batch, optimizer, resident, y, seg.expand(n_seeds, *seg.shape).contiguous(), None, config)
    noise = [torch.Generator(device).manual_seed(stream_seed(s, "dropout")) for s in config.seeds]
    idx = torch.arange(BATCHES * config.batch_size, device=device).reshape(BATCHES, 1, -1).expand(-1, n_seeds, -1)
    return Variant({"model": model, "seeds": n_seeds, "way": way, "batch": config.batch_size}, step, noise, idx, [])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", choices=sorted(SIZES), default="quick")
    ap.add_argument("--models", default="han,mgn,mm_pyramid")
    ap.add_argument("--seeds", default="1,5", help="comma-separated seed counts S")
    ap.add_argument("--ways", default="eager,compiled")
    ap.add_argument("--block", type=int, default=10, help="steps a timed block")
    ap.add_argument("--blocks", type=int, default=5, help="timed blocks a variant")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of timed blocks a variant at most")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    size = SIZES[args.size]
    g = torch.Generator(device).manual_seed(0)
    n = BATCHES * max(BATCH.values())
    inputs = tuple(torch.randn(n, t, d, generator=g, device=device) for t, d in zip((10, 80, 10), size["dims"]))
    y = (torch.rand(n, 25, generator=g, device=device) < 0.1).float()
    seg = (torch.rand(n, 10, 25, generator=g, device=device) < 0.5).float() * y[:, None]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    print(json.dumps({"device": name, "torch": torch.__version__, "size": args.size}), flush=True)

    variants = []
    for model in args.models.split(","):
        for n_seeds in (int(s) for s in args.seeds.split(",")):
            for way in args.ways.split(","):
                v = variant(model, n_seeds, way, size, (inputs, y, seg), device)
                if way == "eager":
                    v()  # a warm-up step, then the count
                    v.name.update(count_ops(v))
                sync(device)
                started = time.perf_counter()
                v()  # the compile, for a compiled step
                v()
                sync(device)
                v.name["first_two_steps_s"] = round(time.perf_counter() - started, 3)
                variants.append(v)
    while any(len(v.blocks) < args.blocks and v.spent < args.budget for v in variants):
        for v in variants:
            if len(v.blocks) < args.blocks and v.spent < args.budget:
                sync(device)
                started = time.perf_counter()
                for _ in range(args.block):
                    v()
                sync(device)
                v.blocks.append(time.perf_counter() - started)
                v.spent += v.blocks[-1]
    rows = []
    for v in variants:
        row = {**v.name, "ms_per_step": round(1e3 * statistics.median(v.blocks) / args.block, 2),
               "blocks": len(v.blocks), "block": args.block}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{name}, size {args.size}: median ms/step over blocks of {args.block} steps")
    print("| family | S | way | ms/step | compute ops | aten ops | first two steps (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['seeds']} | {r['way']} | {r['ms_per_step']:.2f} | {r.get('compute_ops', '')} | "
              f"{r.get('aten_ops', '')} | {r['first_two_steps_s']:.1f} |")


if __name__ == "__main__":
    main()
