"""A lock that a killed run left behind, cleared before `make demo` starts Snakemake again.

Snakemake's lock (RUNDIR/.snakemake/locks) names no process, so a run killed with -9 leaves it
and the next run stops. It is cleared only when no process of this machine works in RUNDIR with
"snakemake" in its command line: Snakemake itself, or one of its jobs, which outlive a killed
Snakemake. A live run's lock is left alone, and its processes are named.

    python -m vplan_core.run_lock RUNDIR
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def live_processes(rundir: Path) -> list[str]:
    """'pid command' of every other process working in rundir with "snakemake" in its command."""
    import psutil  # a Snakemake dependency

    ours = {os.getpid()} | {p.pid for p in psutil.Process().parents()}
    return [f"{p.pid} {' '.join(p.info['cmdline'] or [])[:150]}"
            for p in psutil.process_iter(["cwd", "cmdline"])
            if p.pid not in ours and p.info["cwd"] == str(rundir) and "snakemake" in str(p.info["cmdline"])]


def clear_stale_lock(rundir: str | os.PathLike) -> str | None:
    """Remove rundir's Snakemake lock unless a live run holds it; what was done, or None."""
    rundir = Path(rundir).resolve()
    if not any(rundir.glob(".snakemake/locks/*.lock")):
        return None
    running = live_processes(rundir)
    if running:
        return "\n  ".join([f"vplan: {rundir} is locked by a live run, left locked; its processes:", *running])
    shutil.rmtree(rundir / ".snakemake/locks")
    return f"vplan: cleared the lock that a killed run left in {rundir}"


if __name__ == "__main__":
    message = clear_stale_lock(sys.argv[1])
    if message:
        print(message)
