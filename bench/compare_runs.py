"""Two finished runs of the workflow compared file by file: the proof that a refactor changed no output.

Every file under results/ is compared by content: npz arrays (names, dtypes, values), zarr
stores (every array, and attributes except timings), torch files (state dicts, tensors and
plain values, recursively), JSON (every key; keys named like a time are left out), markdown
with its wall times ("12.3 s") masked, other files byte for byte. Each run's own folder is
written as <run> wherever a text holds it (stores record their weight files' absolute paths).
Prints each difference and exits 1 if there is one. A refactor that moves artifacts names the
moves with --renamed OLD=NEW (regular expressions on run A's relative paths, applied in order),
so that each old file is compared with its new place.

    .venv/bin/python bench/compare_runs.py RUN_A RUN_B          # two working directories
    .venv/bin/python bench/compare_runs.py RUN_A RUN_B --renamed '^(\w+)/models/(row)=\1/models/han/\2'
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch
import zarr

TIMING_KEYS = ("seconds", "wall", "time", "elapsed", "started", "finished", "date", "created")


def is_timing(key: str) -> bool:
    return any(word in key.lower() for word in TIMING_KEYS)


RUN_ROOT: dict[str, str] = {}  # the absolute folder of the run being read, written as <run>
WALL_TIME = re.compile(r"\d+(\.\d+)? s\b")


def strip_timings(value):
    if isinstance(value, dict):
        return {k: strip_timings(v) for k, v in value.items() if not is_timing(str(k))}
    if isinstance(value, (list, tuple)):
        return [strip_timings(v) for v in value]
    if isinstance(value, str) and RUN_ROOT:
        return value.replace(RUN_ROOT["path"], "<run>")
    return value


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a if not is_timing(str(k)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def load(path: Path):
    if path.suffix == ".npz":
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    if path.suffix in (".pt", ".pth"):
        return torch.load(path, map_location="cpu", weights_only=False)
    if path.suffix == ".json":
        return strip_timings(json.loads(path.read_text()))
    if path.suffix == ".md":
        return WALL_TIME.sub("<t> s", strip_timings(path.read_text()))
    return path.read_bytes()


def zarr_contents(store: Path) -> dict:
    group = zarr.open_group(str(store), mode="r")
    out = {"attrs": strip_timings(dict(group.attrs))}
    for name, array in group.arrays():
        out[name] = array[...]
    return out


def read(path: Path, results: Path):
    RUN_ROOT["path"] = str(results.parent.resolve())
    return zarr_contents(path) if path.suffix == ".zarr" else load(path)


def files(root: Path) -> dict[str, Path]:
    """Relative path -> file, zarr stores as one entry."""
    found = {}
    for path in sorted(root.rglob("*")):
        if any(p.suffix == ".zarr" for p in path.relative_to(root).parents if p != Path(".")):
            continue
        if path.suffix == ".zarr" or path.is_file():
            found[str(path.relative_to(root))] = path
    return found


def renamed(found: dict[str, Path], renames: list[tuple[str, str]]) -> dict[str, Path]:
    """The same files under the names the renames give them (each OLD=NEW in order)."""
    out = {}
    for key, path in found.items():
        for old, new in renames:
            key = re.sub(old, new, key)
        out[key] = path
    return out


def compare(a_root: Path, b_root: Path, skip: tuple[str, ...], renames: list[tuple[str, str]] = ()) -> list[str]:
    a, b = renamed(files(a_root), list(renames)), files(b_root)
    a, b = ({k: v for k, v in found.items() if not any(part in k for part in skip)} for found in (a, b))
    problems = [f"only in {a_root}: {k}" for k in sorted(a.keys() - b.keys())]
    problems += [f"only in {b_root}: {k}" for k in sorted(b.keys() - a.keys())]
    for key in sorted(a.keys() & b.keys()):
        pa, pb = a[key], b[key]
        left, right = read(pa, a_root), read(pb, b_root)
        if not same(left, right):
            problems.append(f"differs: {key}")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--skip", nargs="*", default=[".log", ".html", ".snakemake_timestamp"],
                    help="path parts to leave out (logs, the HTML report and Snakemake's folder stamps carry times)")
    ap.add_argument("--renamed", nargs="*", default=[], metavar="OLD=NEW",
                    help="regular-expression renames of run A's relative paths (artifacts a refactor moved)")
    args = ap.parse_args()
    a, b = args.run_a / "results", args.run_b / "results"
    problems = compare(a, b, tuple(args.skip), [tuple(r.split("=", 1)) for r in args.renamed])
    n = len(files(a))
    for p in problems:
        print(p)
    print(f"{n} outputs compared: {'identical' if not problems else f'{len(problems)} differences'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
