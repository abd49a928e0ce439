"""Feature stores: one zarr v3 directory per feature per shard (docs/architecture.md).

Layout: array "features" float32 [N, ...] chunked by ~64 videos; group attrs video_ids (row
order), feature, shape (per video), model, weights, weights_sha256, sampling, code_version,
plus whatever the extractor adds (e.g. skipped). A store is written under "<path>.tmp", synced
and renamed into place, so a killed job leaves at most a stale .tmp (removed by the next write),
never a half-written store under the final name that Snakemake would take as done.

The array's fill value is NaN: a chunk file lost afterwards (an interrupted copy of results/, a
full disk) reads as NaN, which load_features refuses by name, instead of as zeros that look like
features. Stores written before (fill value 0) are checked for lost chunks when opened.

A store of videos of any length (ragged: LFAV's features, one row per second of videos of
minutes) holds its videos' rows one after the other, [sum T_i, D] chunked by CHUNK_ROWS rows,
with attrs `lengths` (T_i, in video_ids order) and `shape` [null, D]; load_features returns such
a feature as a list of [T_i, D] arrays. The shards of one feature are all ragged or all fixed.
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
CHUNK_ROWS = 16384  # a ragged store's chunk: 32 MiB of 512-wide rows, as 64 videos of LLP's res152 are 42 MiB
REQUIRED_ATTRS = ("feature", "model", "weights", "weights_sha256", "sampling")


def code_version() -> str:
    """Version of the installed vplan package (no git: stores are written outside checkouts)."""
    try:
        return f"vplan {importlib.metadata.version('vplan')}"
    except importlib.metadata.PackageNotFoundError:
        return "vplan (not installed)"


def write_store(path: str | os.PathLike, features: np.ndarray | Sequence[np.ndarray], video_ids: Sequence[str],
                attrs: Mapping, shape: Sequence[int | None] | None = None) -> Path:
    """Atomically write features with their ids and provenance attrs: an array [N, ...], or a
    list of per-video arrays [T_i, ...] whose first dimension varies (a ragged store; `shape`,
    ragged only, e.g. [None, 128], gives the per-video shape when the list is empty, and is
    checked against the arrays otherwise). float32 either way.

    `attrs` must carry REQUIRED_ATTRS; video_ids, shape, code_version (and a ragged store's
    lengths) are filled in here. N = 0 is allowed: attrs["shape"] still says the per-video shape,
    so an empty shard concatenates with the others.
    """
    path = Path(path)
    missing = [k for k in REQUIRED_ATTRS if k not in attrs]
    if missing:
        raise ValueError(f"store attrs lack {missing} (writing {path})")
    if isinstance(features, (list, tuple)):
        features, lengths = _ragged(path, features, video_ids, shape)
        extra = {"shape": [None, *features.shape[1:]], "lengths": lengths}
        chunks = (CHUNK_ROWS, *features.shape[1:])
    else:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim < 1 or features.shape[0] != len(video_ids):
            raise ValueError(f"{len(video_ids)} video ids for features of shape {features.shape} "
                             f"(writing {path})")
        extra, chunks = {"shape": list(features.shape[1:])}, (CHUNK_VIDEOS, *features.shape[1:])
    if len(set(video_ids)) != len(video_ids):
        raise ValueError(f"duplicate video ids (writing {path})")
    all_attrs = {**attrs, "video_ids": [str(v) for v in video_ids], **extra, "code_version": code_version()}
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    path.parent.mkdir(parents=True, exist_ok=True)
    group = zarr.open_group(store=str(tmp), mode="w", zarr_format=3)
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


def _ragged(path: Path, arrays: Sequence[np.ndarray], video_ids: Sequence[str],
            shape: Sequence[int | None] | None) -> tuple[np.ndarray, list[int]]:
    """Per-video arrays [T_i, ...] as one [sum T_i, ...] float32 array, and their lengths T_i."""
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    if len(arrays) != len(video_ids):
        raise ValueError(f"{len(video_ids)} video ids for {len(arrays)} per-video arrays (writing {path})")
    if shape is None and not arrays:
        raise ValueError(f"an empty ragged store needs its per-video shape, e.g. [None, 128] (writing {path})")
    rows = tuple(shape[1:]) if shape is not None else arrays[0].shape[1:]
    for vid, a in zip(video_ids, arrays):
        if a.ndim != 1 + len(rows) or a.shape[1:] != rows:
            raise ValueError(f"video {vid}: features of shape {a.shape}, the store's videos are "
                             f"[T, {', '.join(map(str, rows))}] (writing {path})")
    lengths = [int(a.shape[0]) for a in arrays]
    return (np.concatenate(arrays) if arrays else np.zeros((0, *rows), np.float32)), lengths


def is_ragged(attrs: Mapping) -> bool:
    """Whether a store holds videos of any length (attrs shape [null, ...])."""
    return bool(attrs["shape"]) and attrs["shape"][0] is None


def _offsets(attrs: Mapping) -> np.ndarray:
    """A ragged store's first row of each video, and the end: [N + 1]."""
    return np.concatenate([[0], np.cumsum(attrs["lengths"], dtype=np.int64)])


def open_store(path: str | os.PathLike) -> tuple[zarr.Array, dict]:
    """(lazy "features" array, attrs); ValueError when the array and attrs disagree."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"feature store not found: {path}")
    group = zarr.open_group(store=str(path), mode="r", zarr_format=3)
    array = group["features"]
    attrs = dict(group.attrs)
    ids, shape = attrs.get("video_ids", []), attrs.get("shape", [])
    if shape and shape[0] is None:
        lengths = attrs.get("lengths", [])
        if list(array.shape[1:]) != list(shape[1:]) or len(lengths) != len(ids) or array.shape[0] != sum(lengths):
            raise ValueError(f"feature store {path}: array {tuple(array.shape)} does not match attrs shape "
                             f"{shape}, {len(ids)} video ids and {len(lengths)} lengths of {sum(lengths)} rows")
    elif list(array.shape[1:]) != list(shape) or array.shape[0] != len(ids):
        raise ValueError(f"feature store {path}: array {tuple(array.shape)} does not match "
                         f"attrs shape {attrs.get('shape')} and "
                         f"{len(attrs.get('video_ids', []))} video ids")
    if not np.isnan(array.fill_value) and array.nchunks_initialized < array.nchunks:
        raise ValueError(f"feature store {path}: {array.nchunks - array.nchunks_initialized} of its "
                         f"{array.nchunks} chunk files are missing, and this store (written before lost "
                         "chunks read as NaN) would read them as zeros: write the store again")
    return array, attrs


def read_store(path: str | os.PathLike) -> tuple[np.ndarray | list[np.ndarray], list[str], dict]:
    """(features [N, ...], or a ragged store's list of [T_i, ...], video_ids, attrs) of one store."""
    array, attrs = open_store(path)
    features = np.asarray(array[...])
    if is_ragged(attrs):
        offsets = _offsets(attrs)
        features = [features[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return features, list(attrs["video_ids"]), attrs


def available_ids(store_paths: Iterable[str | os.PathLike]) -> set[str]:
    ids: set[str] = set()
    for path in store_paths:
        ids.update(open_store(path)[1]["video_ids"])
    return ids


def _locate(store_paths: Sequence[str | os.PathLike], video_ids: Sequence[str]
            ) -> tuple[list[tuple[zarr.Array, dict]], dict[str, tuple[int, int]]]:
    """The opened stores, and id -> (store index, video's index in it), for `video_ids`.

    KeyError for ids in no store (count and the first ids); ValueError when an id is in two
    stores, or the shards disagree on the per-video shape (ragged and fixed ones included)."""
    where: dict[str, tuple[int, int]] = {}
    opened = []
    for s, path in enumerate(store_paths):
        array, attrs = open_store(path)
        if opened and is_ragged(attrs) != is_ragged(opened[0][1]):
            ragged, fixed = (path, store_paths[0]) if is_ragged(attrs) else (store_paths[0], path)
            raise ValueError(f"feature store {ragged} holds videos of any length (shape [null, ...]) but {fixed} "
                             f"videos of one length: the shards of feature {attrs['feature']} must be written "
                             "alike; write them again from one source")
        if opened and attrs["shape"] != opened[0][1]["shape"]:
            raise ValueError(f"feature store {path}: per-video shape {attrs['shape']} differs "
                             f"from {opened[0][1]['shape']} in {store_paths[0]}")
        opened.append((array, attrs))
        for index, vid in enumerate(attrs["video_ids"]):
            if vid in where:
                raise ValueError(f"video {vid} is in two feature stores: "
                                 f"{store_paths[where[vid][0]]} and {path}")
            where[vid] = (s, index)
    absent = [v for v in video_ids if v not in where]
    if absent:
        raise KeyError(f"{len(absent)} of {len(video_ids)} videos have no features in "
                       f"{len(store_paths)} store(s); first: {absent[:5]}")
    if not opened:
        raise ValueError("load_features needs at least one store")
    return opened, where


def load_features(store_paths: Sequence[str | os.PathLike], video_ids: Sequence[str]
                  ) -> np.ndarray | list[np.ndarray]:
    """Features of `video_ids`, in that order, gathered from the shards: [len(ids), ...], or for
    ragged stores a list of float32 [T_i, ...], one per id.

    Reads only the requested rows (of a ragged store: its rows from the first requested video
    to the last). KeyError for ids in no store (count and the first ids); ValueError when an id
    is in two stores, shards disagree on the per-video shape (or are ragged and fixed mixed) or
    a requested row holds NaN/inf (naming store and video).
    """
    opened, where = _locate(store_paths, video_ids)
    ragged = is_ragged(opened[0][1])
    out = [None] * len(video_ids) if ragged else \
        np.empty((len(video_ids), *opened[0][1]["shape"]), dtype=np.float32)
    for s, (array, attrs) in enumerate(opened):
        targets = np.asarray([i for i, v in enumerate(video_ids) if where[v][0] == s])
        if not len(targets):
            continue
        videos = np.asarray([where[video_ids[i]][1] for i in targets])
        order = np.argsort(videos)
        targets, videos = targets[order], videos[order]
        if ragged:  # one read of the span (a chunk holds thousands of rows), then each video's rows
            offsets = _offsets(attrs)
            first, stop = int(offsets[videos[0]]), int(offsets[videos[-1] + 1])
            span = np.asarray(array[first:stop])
            rows = np.concatenate([np.arange(offsets[v], offsets[v + 1]) for v in videos])
            finite = np.isfinite(span.reshape(len(span), -1)).all(axis=1)[rows - first]
            owner = np.repeat(videos, np.diff(offsets)[videos])
        else:
            rows = owner = videos
            block = np.asarray(array.oindex[rows])
            finite = np.isfinite(block.reshape(len(rows), -1)).all(axis=1)
        if not finite.all():
            bad = [attrs["video_ids"][v] for v in dict.fromkeys(owner[~finite])]
            raise ValueError(f"feature store {store_paths[s]}: NaN/inf in video {bad[0]}"
                             + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                             + f" (feature {attrs['feature']}, rows {_spans(rows[~finite])}; "
                             "a lost chunk file reads as NaN: write the store again)")
        if ragged:  # views of the span when it is all asked for, else copies (the rest is freed)
            whole = len(rows) == len(span)
            for target, v in zip(targets, videos):
                piece = span[offsets[v] - first:offsets[v + 1] - first]
                out[target] = piece if whole else piece.copy()
        else:
            out[targets] = block
    return out


def store_lengths(store_paths: Sequence[str | os.PathLike], video_ids: Sequence[str]) -> np.ndarray:
    """Rows (segments) of each of `video_ids`' features, in that order, from the stores' attrs
    alone: a ragged store's lengths, a fixed store's first per-video dimension. Errors as
    load_features'."""
    opened, where = _locate(store_paths, video_ids)
    per_store = [np.asarray(attrs["lengths"], np.int64) if is_ragged(attrs)
                 else np.full(len(attrs["video_ids"]), attrs["shape"][0], np.int64) for _, attrs in opened]
    return np.asarray([per_store[s][index] for s, index in (where[v] for v in video_ids)], dtype=np.int64)


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
