"""What compare_runs.py calls different between `make demo` at aff8114 (/work/baseline) and at the
merged main (/work/after): each store's arrays and its attrs (the run folder written as <run>, the
fingerprint left out: it hashes the settings file, which names the clone's folder, and each
video's mtime), the text embeddings' arrays, and the report's tables of aff8114 found unchanged
in the new report."""
import json
from pathlib import Path

import numpy as np
import zarr

RUNS = {"before": "/work/baseline", "after": "/work/after"}


def norm(value, run):
    return json.dumps(value, sort_keys=True).replace(RUNS[run], "<run>")


for store in sorted(Path(RUNS["before"], "results/demo/features").glob("*/*.zarr")):
    rel = store.relative_to(RUNS["before"])
    g = {r: zarr.open_group(str(Path(RUNS[r]) / rel), mode="r") for r in RUNS}
    attrs = {r: {k: v for k, v in dict(g[r].attrs).items() if k != "fingerprint"} for r in RUNS}
    arrays = {r: {k: np.asarray(a[:]) for k, a in g[r].arrays()} for r in RUNS}
    same = arrays["before"].keys() == arrays["after"].keys() and all(
        np.array_equal(arrays["before"][k], arrays["after"][k]) for k in arrays["before"])
    fill = {r: [a.fill_value for _, a in g[r].arrays()] for r in RUNS}
    print(f"{rel}: arrays {'identical' if same else 'DIFFER'}; attrs but fingerprint "
          f"{'identical' if norm(attrs['before'], 'before') == norm(attrs['after'], 'after') else 'DIFFER'}; "
          f"fill value {fill['before']} -> {fill['after']}")
emb = {r: np.load(Path(RUNS[r], "results/demo/plg/clip/text_embeddings.npz")) for r in RUNS}
print("plg/clip/text_embeddings.npz: arrays of aff8114",
      "identical" if all(np.array_equal(emb["before"][k], emb["after"][k]) for k in emb["before"].files) else "DIFFER",
      "; added:", sorted(set(emb["after"].files) - set(emb["before"].files)))
before = Path(RUNS["before"], "results/demo/report/report.md").read_text().splitlines()
after = set(Path(RUNS["after"], "results/demo/report/report.md").read_text().splitlines())
rows = [line for line in before if line.startswith("|")]
missing = [line for line in rows if line not in after]
print(f"report.md: {len(rows) - len(missing)} of aff8114's {len(rows)} table lines stand unchanged in the new report")
for line in missing:
    print("  changed:", line)
