"""Atomic, durable writes: the temp file a write killed with -9 leaves is removed by the next
write, and what is renamed into place is synced first, its folder after."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vplan_core import atomic
from vplan_core.feature_store import write_store


def test_the_next_write_removes_a_killed_writes_temp_file(tmp_path):
    target = tmp_path / "history.json"
    stale = atomic._tmp_beside(target, "")  # what a write killed before its rename leaves
    other = tmp_path / ".other.json.abcd1234"  # another target's temp file stays
    other.write_text("")
    atomic.write_json(target, {"epoch": 2})
    assert json.loads(target.read_text()) == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abcd1234", "history.json"]
    assert stale.startswith(str(tmp_path / ".history.json."))


def synced_paths(monkeypatch) -> list[str]:
    """Record the path of every os.fsync (the real fsync still runs)."""
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_a_replaced_file_is_synced_then_its_folder(tmp_path, monkeypatch):
    """Durable, not only atomic: the data before the rename, the folder's entry after it."""
    synced = synced_paths(monkeypatch)
    atomic.write_json(tmp_path / "labels.json", {"epoch": 2})
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".labels.json.") and synced[1] == str(tmp_path)


def test_a_store_is_synced_file_by_file_then_renamed_and_its_folder_synced(tmp_path, monkeypatch):
    synced = synced_paths(monkeypatch)
    path = write_store(tmp_path / "s.zarr", np.ones((70, 3), np.float32), [f"v{i}" for i in range(70)],
                       {"feature": "vggish", "model": "m", "weights": "w", "weights_sha256": "", "sampling": {}})
    written = {str(p.relative_to(path)) for p in path.rglob("*")} | {"."}
    assert {os.path.relpath(p, f"{path}.tmp") for p in synced[:-1]} == written
    assert synced[-1] == str(tmp_path)
