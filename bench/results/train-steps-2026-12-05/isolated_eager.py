"""Eager ms/step of the new code timed as head_steps.py times the old one: each family alone, S=1, median of 50 single steps."""
import sys, time, statistics, torch
sys.path.insert(0, "bench")
import bench_train_steps as b
torch.set_num_threads(2)
size = b.SIZES["quick"]; dev = torch.device("cpu")
g = torch.Generator().manual_seed(0); n = 128
inputs = tuple(torch.randn(n, t, d, generator=g) for t, d in zip((10, 80, 10), size["dims"]))
y = (torch.rand(n, 25, generator=g) < 0.1).float(); seg = (torch.rand(n, 10, 25, generator=g) < 0.5).float() * y[:, None]
for model in sys.argv[1].split(","):
    v = b.variant(model, 1, "eager", size, (inputs, y, seg), dev)
    v(); ts = []
    for _ in range(50):
        t = time.perf_counter(); v(); ts.append(time.perf_counter() - t)
    print(model, round(1e3 * statistics.median(ts), 2))
