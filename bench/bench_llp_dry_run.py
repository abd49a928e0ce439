"""How long Snakemake takes to parse and plan the full LLP DAG (11,849 videos, config/llp.yaml).

Every `snakemake` command pays it before its first job, and so does every cluster job's own
Snakemake (it parses the workflow again for its one job). Times `snakemake --dry-run` over the
real annotation files with the LLP dry-run test's config (`tests/test_llp_workflow.llp_config`:
an empty videos folder, placeholder weight files, a tiny state dict in open_clip's form where
the CLIP checkpoint belongs), and `python -c "import X"` for the imports that dominate it. --other-repo times a second checkout (e.g. a git worktree of
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for the LLP test's config (placeholder weights, empty folders)

from tests.test_llp_workflow import llp_config  # noqa: E402
from tests.workflow_runs import SNAKEMAKE, write_config  # noqa: E402


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
        config = llp_config(Path(tmp), annotations=args.annotations.resolve(), videos=True, official=False)
        configfile = write_config(Path(tmp), config)
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
