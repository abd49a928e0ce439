"""Atomic, durable file writes: a job killed mid-write never leaves a file that a later run would
trust, and a file renamed into place is on disk (data, then the folder's entry) before the next
step reads it, so a power cut or full node after a job cannot leave a trusted file empty."""
from __future__ import annotations

import contextlib
import glob
import json
import os
from collections.abc import Iterator
import tempfile
from pathlib import Path

import numpy as np


def _tmp_beside(path: Path, suffix: str) -> str:
    """A temp file in the target's folder (so os.replace is atomic), with the usual permissions:
    mkstemp's 0600 would hide results from the rest of a cluster group."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def sync(path: str | Path) -> None:
    """fsync a file or a folder (a folder's fsync makes the names renamed into it durable)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(root: str | Path) -> None:
    """fsync every file and folder under `root` (a zarr store before it is renamed into place)."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            sync(os.path.join(folder, name))
        sync(folder)


@contextlib.contextmanager
def replacing(path: str | Path, suffix: str = "") -> Iterator[str]:
    """Yield a temp path to write; on success it is synced and replaces `path` (whose folder is
    then synced), on any error it is removed. A write killed with -9 cannot remove its temp
    file: the next successful write of the same path does (only one job writes a path)."""
    path = Path(path)
    tmp = _tmp_beside(path, suffix)
    try:
        yield tmp
        sync(tmp)
        os.replace(tmp, path)
        sync(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        stale.unlink(missing_ok=True)


def savez(path: str | Path, **arrays: np.ndarray) -> None:
    with replacing(path, ".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def write_text(path: str | Path, text: str) -> None:
    with replacing(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8", newline="")


def write_json(path: str | Path, data: object) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")
