"""The training step as it was at f890ecb (before issue 27 item 2), measured the way
bench/bench_train_steps.py measures the new one: run against an export of that commit.

Eager = batch_losses + backward + Adam step; compiled = torch.compile(batch_losses, dynamic=False)
with backward and the Adam step eager (what train.compile did then). Prints one JSON line a
variant: aten ops a step (profiler, eager), first-step seconds, median ms a step.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

from vplan_core.method.losses import LossConfig
from vplan_core.models import family
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.trainer import TrainConfig, batch_losses, initial_model, stream_seed

# the same sizes as bench/bench_train_steps.py's SIZES
SIZES = {
    "quick": dict(dims=(16, 32, 16), train={"han": {"d_model": 32}}, kwargs={
        "mgn": {"dim": 16, "depth_aud": 1, "depth_vis": 1, "depth_av": 1, "num_heads": 2},
        "mm_pyramid": {"hidden_dim": 16, "ffn_dim": 16, "levels": 2, "nhead": 2}}),
    "llp": dict(dims=(128, 2048, 512), train={"han": {"d_model": 512}}, kwargs={
        "mgn": {"dim": 128, "depth_aud": 3, "depth_vis": 3, "depth_av": 6, "num_heads": 8, "drop_path": 0.1},
        "mm_pyramid": {"hidden_dim": 512, "levels": 4, "nhead": 8, "dropout": 0.2}}),
}
BATCH = {"han": 32, "mgn": 16, "mm_pyramid": 16}
VIEWS = {"aten::view", "aten::reshape", "aten::_reshape_alias", "aten::as_strided", "aten::t", "aten::transpose",
         "aten::expand", "aten::slice", "aten::select", "aten::unsqueeze", "aten::squeeze", "aten::permute",
         "aten::detach", "aten::alias", "aten::unbind", "aten::split", "aten::chunk", "aten::narrow",
         "aten::diagonal", "aten::_unsafe_view", "aten::lift_fresh", "aten::empty", "aten::empty_like",
         "aten::empty_strided", "aten::resolve_conj", "aten::resolve_neg", "aten::result_type", "aten::to",
         "aten::_to_copy", "aten::is_nonzero", "aten::item", "aten::_local_scalar_dense", "aten::unflatten",
         "aten::flatten", "aten::movedim", "aten::view_as", "aten::expand_as", "aten::split_with_sizes",
         "aten::contiguous"}


def count_ops(fn) -> dict:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    leaves = [e for e in prof.events() if e.name.startswith("aten::")
              and not any(c.name.startswith("aten::") for c in e.cpu_children)]
    return {"aten_ops": len(leaves), "compute_ops": sum(e.name not in VIEWS for e in leaves)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=sorted(SIZES), default="quick")
    ap.add_argument("--models", default="han,mgn,mm_pyramid")
    ap.add_argument("--seeds", default="1,5")
    ap.add_argument("--ways", default="eager,compiled")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    size = SIZES[args.size]
    g = torch.Generator().manual_seed(0)
    n = 64
    inputs = tuple(torch.randn(n, t, d, generator=g) for t, d in zip((10, 80, 10), size["dims"]))
    y = (torch.rand(n, 25, generator=g) < 0.1).float()
    seg1 = (torch.rand(n, 10, 25, generator=g) < 0.5).float() * y[:, None]
    for model in args.models.split(","):
        for s in (int(v) for v in args.seeds.split(",")):
            for way in args.ways.split(","):
                config = TrainConfig(loss=LossConfig("plg_rl"), seeds=range(s), batch_size=BATCH[model], model=model,
                                     model_kwargs=size["kwargs"].get(model, {}), **size["train"].get(model, {}))
                batch = SeedBatch([initial_model(config, inputs, 25, k) for k in config.seeds])
                optimizer = torch.optim.Adam(batch.params.values(), lr=config.lr)
                noise_g = [torch.Generator().manual_seed(stream_seed(k, "dropout")) for k in config.seeds]
                seg = seg1.expand(s, *seg1.shape).contiguous()
                losses = torch.compile(batch_losses, dynamic=False) if way == "compiled" else batch_losses
                extra = family(model).extra_loss

                def step(start: int) -> None:
                    idx = torch.stack([torch.arange(start, start + config.batch_size)] * s)
                    size_ = batch.noise_size(config.batch_size, 10)
                    noise = torch.stack([torch.rand(size_, generator=k) for k in noise_g]) if size_ else None
                    loss = losses(batch, inputs, idx, y, seg, noise, config.loss, extra, None)
                    optimizer.zero_grad(set_to_none=True)
                    loss.sum().backward()
                    optimizer.step()

                started = time.perf_counter()
                step(0)
                first = time.perf_counter() - started
                ops = count_ops(lambda: step(0)) if way == "eager" else {}
                times = []
                for i in range(args.steps):
                    started = time.perf_counter()
                    step((i % 2) * config.batch_size)
                    times.append(time.perf_counter() - started)
                print(json.dumps({"code": "f890ecb", "size": args.size, "model": model, "seeds": s, "way": way,
                                  "batch": config.batch_size, "first_step_s": round(first, 3),
                                  "ms_per_step": round(1e3 * statistics.median(times), 2), **ops}), flush=True)


if __name__ == "__main__":
    main()
