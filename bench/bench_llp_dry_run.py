"""How long Snakemake takes to parse and plan the full LLP DAG (11,849 videos, config/llp.yaml).

Every `snakemake` command pays it before its first job, and so does every cluster job's own
Snakemake (it parses the workflow again for its one job). Times `snakemake --dry-run` over the
real annotation files with an empty videos folder and placeholder weight files (a tiny
state dict in open_clip's form where the CLIP checkpoint belongs), and `python -c "import X"`
for the imports that dominate it. --other-repo times a second checkout (e.g. a git worktree of
an older commit) in the same run, in turns, for a side-by-side ratio:

    git worktree add /tmp/vplan-before <commit>
    .venv/bin/python bench/bench_llp_dry_run.py --annotations ../shared/llp --repeats 5 \\
        --other-repo /tmp/vplan-before

Prints JSON: medians in seconds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
WEIGHT_KEYS = (("vggish", "weights"), ("vggish", "pca_params"), ("cnn2d", "weights"),
               ("r2plus1d", "weights"), ("clip", "checkpoint"))


def llp_workdir(root: Path, annotations: Path) -> Path:
    """A working folder with config/llp.yaml pointed at the annotations, an empty videos folder
    and placeholder weights; returns its config file."""
    config = yaml.safe_load((REPO / "config/llp.yaml").read_text())
    (root / "videos").mkdir()
    (root / "weights").mkdir()
    config["dataset"].update(annotations=str(annotations.resolve()), videos=str(root / "videos"))
    config["dataset"].pop("official_features", None)
    for section, key in WEIGHT_KEYS:
        path = root / "weights" / Path(config["features"][section][key]).name
        if section == "clip":
            torch.save({"visual.proj": torch.zeros(2, 2), "token_embedding.weight": torch.zeros(3, 2)}, path)
        else:
            path.touch()
        config["features"][section][key] = str(path)
    configfile = root / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return configfile


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, default=REPO.parent / "shared/llp")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--other-repo", type=Path, help="a second checkout to time in turns")
    args = parser.parse_args()
    repos = {"this": REPO, **({"other": args.other_repo.resolve()} if args.other_repo else {})}
    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configfile = llp_workdir(Path(tmp), args.annotations)
        for _ in range(args.repeats):
            for name, repo in repos.items():
                timings.setdefault(f"dry_run_{name}", []).append(seconds(
                    [SNAKEMAKE, "-s", str(repo / "Snakefile"), "-d", tmp, "--configfile", str(configfile),
                     "--dry-run", "--quiet"]))
            for module in ("torch", "open_clip"):
                timings.setdefault(f"import_{module}", []).append(
                    seconds([sys.executable, "-c", f"import {module}"]))
    result = {key: round(statistics.median(values), 2) for key, values in timings.items()}
    if args.other_repo:
        result["other_repo"] = str(args.other_repo)
        result["this_over_other"] = round(result["dry_run_this"] / result["dry_run_other"], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
