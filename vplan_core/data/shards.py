"""Sharding of per-video work: a few hundred videos a job keeps a 12k-video DAG small.

Shards are positions in one fixed order (train, val, test split files, file order), so the DAG
only needs the number of videos, and every job recomputes its own slice from the annotations.
"""
from __future__ import annotations

import math
from pathlib import Path

from vplan_core.data.annotations import read_weak_labels
from vplan_core.data.description import LLP, SPLITS, DatasetDescription


def split_video_ids(annotation_dir: str | Path, split: str, description: DatasetDescription = LLP) -> list[str]:
    """Video ids of one split, in file order."""
    filenames, _ = read_weak_labels(Path(annotation_dir) / description.splits[split].weak, description)
    return [description.video_id(name) for name in filenames]


def all_video_ids(annotation_dir: str | Path, description: DatasetDescription = LLP) -> list[str]:
    """Every video of the three splits, train then val then test, in file order. ValueError
    naming the videos and files when a video is listed twice (in two splits, it would be tested
    on what it trained on)."""
    listed: dict[str, list[str]] = {}
    for split in SPLITS:
        for vid in split_video_ids(annotation_dir, split, description):
            listed.setdefault(vid, []).append(description.splits[split].weak)
    twice = {vid: files for vid, files in listed.items() if len(files) > 1}
    if twice:
        named = "; ".join(f"{vid} in {' and '.join(files)}" for vid, files in list(twice.items())[:20])
        raise ValueError(f"{annotation_dir}: {len(twice)} video(s) listed twice: {named}"
                         + (" ..." if len(twice) > 20 else ""))
    return list(listed)


def shard_count(n_videos: int, shard_size: int) -> int:
    return max(1, math.ceil(n_videos / shard_size))


def shard_names(n_videos: int, shard_size: int) -> list[str]:
    return [f"{k:04d}" for k in range(shard_count(n_videos, shard_size))]


def shard_ids(ids: list[str], shard: str | int, shard_size: int) -> list[str]:
    start = int(shard) * shard_size
    return ids[start : start + shard_size]
