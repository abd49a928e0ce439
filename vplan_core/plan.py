"""From a configuration to jobs: pure functions the workflow (rules/common.smk) plans with.

Seeds: every row is trained for every seed of `train.seeds`; the seeds of one job train as one
batched model (vplan_core.models.seed_batch). Jobs take the seeds in list order,
`train.seeds_per_job` at a time (default: all), so appending a whole group of seeds adds jobs
and leaves the existing ones as they are. A job's seeds name its folder: seeds_0-1-2.
"""
from __future__ import annotations

SEED_SEPARATOR = "-"


def seed_groups(seeds: list[int], per_job: int | None = None) -> list[list[int]]:
    """The seeds of each training job, in list order."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"config key 'train.seeds': need distinct seeds, one at least; got {seeds}")
    per_job = per_job or len(seeds)
    return [list(seeds[i:i + per_job]) for i in range(0, len(seeds), per_job)]


def seed_label(seeds: list[int]) -> str:
    """The name of a group of seeds in paths: [0, 1, 2] -> "0-1-2"."""
    return SEED_SEPARATOR.join(str(s) for s in seeds)


def label_seeds(label: str) -> list[int]:
    """The inverse of seed_label."""
    return [int(s) for s in label.split(SEED_SEPARATOR)]


def seed_dir(seed: int) -> str:
    """A seed's folder inside its job's output folder."""
    return f"seed_{seed}"
