"""Atomic file writes: a job killed mid-write never leaves a file that a later run would trust."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _tmp_beside(path: Path, suffix: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    return tmp


def savez(path: str | Path, **arrays: np.ndarray) -> None:
    path = Path(path)
    tmp = _tmp_beside(path, ".npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def write_json(path: str | Path, data: object) -> None:
    path = Path(path)
    tmp = _tmp_beside(path, ".json")
    Path(tmp).write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
