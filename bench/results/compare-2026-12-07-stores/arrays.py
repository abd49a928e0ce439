"""Each store of two tiny demo runs: features equal, fill values, attrs that differ (run folder as <run>)."""
from pathlib import Path

import numpy as np
import zarr

b, a = Path("/tmp/stores_runs/before/results"), Path("/tmp/stores_runs/after/results")
for p in sorted(b.rglob("*.zarr")):
    ga, gb = zarr.open_group(str(p), mode="r"), zarr.open_group(str(a / p.relative_to(b)), mode="r")
    ab, aa = dict(ga.attrs), dict(gb.attrs)
    ab["weights"], aa["weights"] = (x["weights"].replace(str(r.parent), "<run>") for x, r in ((ab, b), (aa, a)))
    diff = sorted(k for k in set(ab) | set(aa) if ab.get(k) != aa.get(k))
    print(f"{p.relative_to(b)}: features equal {np.array_equal(ga['features'][...], gb['features'][...])}, "
          f"fill value {ga['features'].fill_value} -> {gb['features'].fill_value}, attrs differing {diff}")
