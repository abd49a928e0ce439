"""The stores compare_runs calls different, compared with each run's own folders written as <run> and
<repo> and the fingerprint attr left out (it hashes the settings file, which names the repo's
demo CLIP config by absolute path, and each video's mtime: it differs between any two runs)."""
import json, sys
from pathlib import Path
import numpy as np
import zarr

runs = {"before": ("/tmp/tables_runs/before", "/tmp/tables_before"), "after": ("/tmp/tables_runs/after", "/tmp/tables_after")}
def norm(value, run):
    text = json.dumps(value, sort_keys=True)
    return text.replace(runs[run][0], "<run>").replace(runs[run][1], "<repo>")
for store in sorted(Path("/tmp/tables_runs/before/results/tiny/features").glob("*/*.zarr")):
    rel = store.relative_to("/tmp/tables_runs/before")
    g = {r: zarr.open_group(str(Path(runs[r][0]) / rel), mode="r") for r in runs}
    attrs = {r: {k: v for k, v in dict(g[r].attrs).items() if k != "fingerprint"} for r in runs}
    same_attrs = norm(attrs["before"], "before") == norm(attrs["after"], "after")
    arrays = {r: {k: np.asarray(a[:]) for k, a in g[r].arrays()} for r in runs}
    same_arrays = arrays["before"].keys() == arrays["after"].keys() and all(
        np.array_equal(arrays["before"][k], arrays["after"][k]) and arrays["before"][k].dtype == arrays["after"][k].dtype
        for k in arrays["before"])
    print(f"{rel}: arrays {'identical' if same_arrays else 'DIFFER'}, attrs but fingerprint {'identical' if same_attrs else 'DIFFER'}")
s = {r: norm(json.loads((Path(runs[r][0]) / "results/tiny/features/clip/settings.json").read_text()), r) for r in runs}
print("results/tiny/features/clip/settings.json:", "identical" if s["before"] == s["after"] else "DIFFER", "with <repo> for each clone's folder")
