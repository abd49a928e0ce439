"""Atomic writes: the temp file a write killed with -9 leaves is removed by the next write."""
from __future__ import annotations

import json

from vplan_core import atomic


def test_the_next_write_removes_a_killed_writes_temp_file(tmp_path):
    target = tmp_path / "history.json"
    stale = atomic._tmp_beside(target, "")  # what a write killed before its rename leaves
    other = tmp_path / ".other.json.abcd1234"  # another target's temp file stays
    other.write_text("")
    atomic.write_json(target, {"epoch": 2})
    assert json.loads(target.read_text()) == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abcd1234", "history.json"]
    assert stale.startswith(str(tmp_path / ".history.json."))
