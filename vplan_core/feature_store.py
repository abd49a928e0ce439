"""Feature stores: one zarr v3 directory per feature per shard (docs/architecture.md).

Layout: array "features" float32 [N, ...] chunked by ~64 videos; group attrs video_ids (row
order), feature, shape (per video), model, weights, weights_sha256, sampling, code_version,
plus whatever the extractor adds (e.g. skipped). A store is written under "<path>.tmp", synced
and renamed into place, so a killed job leaves at most a stale .tmp (removed by the next write),
never a half-written store under the final name that Snakemake would take as done.

The array's fill value is NaN: a chunk file lost afterwards (an interrupted copy of results/, a
full disk) reads as NaN, which load_features refuses by name, instead of as zeros that look like
features. Stores written before (fill value 0) are checked for lost chunks when opened.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import zarr

from vplan_core import atomic

CHUNK_VIDEOS = 64
REQUIRED_ATTRS = ("feature", "model", "weights", "weights_sha256", "sampling")


def code_version() -> str:
    """Version of the installed vplan package (no git: stores are written outside checkouts)."""
    try:
        return f"vplan {importlib.metadata.version('vplan')}"
    except importlib.metadata.PackageNotFoundError:
        return "vplan (not installed)"


def write_store(path: str | os.PathLike, features: np.ndarray, video_ids: Sequence[str],
                attrs: Mapping) -> Path:
    """Atomically write features [N, ...] (float32) with their ids and provenance attrs.

    `attrs` must carry REQUIRED_ATTRS; video_ids, shape and code_version are filled in here.
    N = 0 is allowed: the array is [0, *shape] and attrs["shape"] still says the per-video
    shape, so an empty shard concatenates with the others.
    """
    path = Path(path)
    features = np.asarray(features, dtype=np.float32)
    missing = [k for k in REQUIRED_ATTRS if k not in attrs]
    if missing:
        raise ValueError(f"store attrs lack {missing} (writing {path})")
    if features.ndim < 1 or features.shape[0] != len(video_ids):
        raise ValueError(f"{len(video_ids)} video ids for features of shape {features.shape} "
                         f"(writing {path})")
    if len(set(video_ids)) != len(video_ids):
        raise ValueError(f"duplicate video ids (writing {path})")
    all_attrs = {**attrs, "video_ids": [str(v) for v in video_ids],
                 "shape": list(features.shape[1:]), "code_version": code_version()}
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    path.parent.mkdir(parents=True, exist_ok=True)
    group = zarr.open_group(store=str(tmp), mode="w", zarr_format=3)
    chunks = (CHUNK_VIDEOS, *features.shape[1:])
    array = group.create_array("features", shape=features.shape, dtype="float32", chunks=chunks,
                               fill_value=np.nan)
    if features.shape[0]:
        array[...] = features
    group.attrs.update(all_attrs)
    atomic.sync_tree(tmp)
    if path.exists():  # a directory cannot be renamed onto a non-empty one: move it aside
        path.rename(old)
    tmp.rename(path)
    atomic.sync(path.parent)
    if old.exists():
        shutil.rmtree(old)
    return path


def open_store(path: str | os.PathLike) -> tuple[zarr.Array, dict]:
    """(lazy "features" array, attrs); ValueError when the array and attrs disagree."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"feature store not found: {path}")
    group = zarr.open_group(store=str(path), mode="r", zarr_format=3)
    array = group["features"]
    attrs = dict(group.attrs)
    if list(array.shape[1:]) != list(attrs.get("shape", [])) or \
            array.shape[0] != len(attrs.get("video_ids", [])):
        raise ValueError(f"feature store {path}: array {tuple(array.shape)} does not match "
                         f"attrs shape {attrs.get('shape')} and "
                         f"{len(attrs.get('video_ids', []))} video ids")
    if not np.isnan(array.fill_value) and array.nchunks_initialized < array.nchunks:
        raise ValueError(f"feature store {path}: {array.nchunks - array.nchunks_initialized} of its "
                         f"{array.nchunks} chunk files are missing, and this store (written before lost "
                         "chunks read as NaN) would read them as zeros: write the store again")
    return array, attrs


def read_store(path: str | os.PathLike) -> tuple[np.ndarray, list[str], dict]:
    """(features [N, ...], video_ids, attrs) of one store."""
    array, attrs = open_store(path)
    return np.asarray(array[...]), list(attrs["video_ids"]), attrs


def available_ids(store_paths: Iterable[str | os.PathLike]) -> set[str]:
    ids: set[str] = set()
    for path in store_paths:
        ids.update(open_store(path)[1]["video_ids"])
    return ids


def load_features(store_paths: Sequence[str | os.PathLike], video_ids: Sequence[str]
                  ) -> np.ndarray:
    """Features of `video_ids`, in that order, gathered from the shards: [len(ids), ...].

    Reads only the requested rows. KeyError for ids in no store (count and the first ids);
    ValueError when an id is in two stores, shards disagree on the per-video shape or
    a requested row holds NaN/inf (naming store and video).
    """
    where: dict[str, tuple[int, int]] = {}  # id -> (store index, row)
    opened = []
    for s, path in enumerate(store_paths):
        array, attrs = open_store(path)
        if opened and attrs["shape"] != opened[0][1]["shape"]:
            raise ValueError(f"feature store {path}: per-video shape {attrs['shape']} differs "
                             f"from {opened[0][1]['shape']} in {store_paths[0]}")
        opened.append((array, attrs))
        for row, vid in enumerate(attrs["video_ids"]):
            if vid in where:
                raise ValueError(f"video {vid} is in two feature stores: "
                                 f"{store_paths[where[vid][0]]} and {path}")
            where[vid] = (s, row)
    absent = [v for v in video_ids if v not in where]
    if absent:
        raise KeyError(f"{len(absent)} of {len(video_ids)} videos have no features in "
                       f"{len(store_paths)} store(s); first: {absent[:5]}")
    if not opened:
        raise ValueError("load_features needs at least one store")
    out = np.empty((len(video_ids), *opened[0][1]["shape"]), dtype=np.float32)
    for s, (array, attrs) in enumerate(opened):
        targets = [i for i, v in enumerate(video_ids) if where[v][0] == s]
        if not targets:
            continue
        rows = np.asarray([where[video_ids[i]][1] for i in targets])
        order = np.argsort(rows)
        block = np.asarray(array.oindex[rows[order]])
        finite = np.isfinite(block.reshape(len(rows), -1)).all(axis=1)
        if not finite.all():
            bad_rows = rows[order][~finite]
            bad = [attrs["video_ids"][r] for r in bad_rows]
            raise ValueError(f"feature store {store_paths[s]}: NaN/inf in video {bad[0]}"
                             + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                             + f" (feature {attrs['feature']}, rows {_spans(bad_rows)}; "
                             "a lost chunk file reads as NaN: write the store again)")
        out[np.asarray(targets)[order]] = block
    return out


def _spans(rows: Iterable[int]) -> str:
    """Sorted row numbers as ranges: "0-63, 128"."""
    spans: list[list[int]] = []
    for row in rows:
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in spans)


def feature_skips(store_paths: Iterable[str | os.PathLike]) -> dict:
    """Per feature, the used videos its extractor skipped (store attr "skipped").

    {feature: {"total": n, "by_reason": {category: n}, "videos": [[video_id, reason], ...]}};
    with the manifest (vplan_core.data.manifest) this accounts for every video of every feature store.
    """
    out: dict[str, dict] = {}
    for path in store_paths:
        _, attrs = open_store(path)
        entry = out.setdefault(attrs["feature"], {"total": 0, "by_reason": {}, "videos": []})
        for vid, reason in attrs.get("skipped", []):
            entry["total"] += 1
            category = reason.split(":", 1)[0]
            entry["by_reason"][category] = entry["by_reason"].get(category, 0) + 1
            entry["videos"].append([vid, reason])
    return out
