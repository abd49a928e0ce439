"""Manifests: one row per requested video, statuses and reasons, TSV round trip, merging."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.media import Audio, write_truncated, write_video
from vplan_core.feature_store import feature_skips
from vplan_core.data.manifest import (COLUMNS, make_record, merge_manifests,
                                 probe_videos, read_manifest, summarize, write_manifest)


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("llp")
    write_video(d / "goodgoodgoo_0_10.mp4", seconds=10.0, audio=Audio(2, 44100))
    write_video(d / "silentvideo_0_10.mp4", seconds=9.5)
    write_video(d / "shortshorts_0_6.mp4", seconds=6.0)
    write_truncated(d / "goodgoodgoo_0_10.mp4", d / "cutcutcutcu_0_10.mp4")
    (d / "emptyemptye_0_10.mp4").write_bytes(b"")
    write_video(d / "twicetwicet_0_10.mp4", seconds=1.0)
    write_video(d / "twicetwicet_10_20.mp4", seconds=1.0)
    (d / "notesnotesn_0_10.txt").write_text("not a video suffix")
    return d


IDS = ["goodgoodgoo", "silentvideo", "shortshorts", "cutcutcutcu", "emptyemptye",
       "twicetwicet", "notesnotesn", "nowherenowh"]


def test_probe_videos_statuses(video_dir):
    rows = {r["video_id"]: r for r in probe_videos(IDS, video_dir, min_duration_s=9.0)}
    assert list(rows) == IDS
    assert rows["goodgoodgoo"]["status"] == "used" and rows["goodgoodgoo"]["has_audio"] == 1
    assert rows["goodgoodgoo"]["decoder"] == "decord"
    assert rows["goodgoodgoo"]["duration_s"] == pytest.approx(10.0, abs=0.02)
    assert rows["silentvideo"]["status"] == "used" and rows["silentvideo"]["has_audio"] == 0
    assert rows["shortshorts"]["status"] == "skipped"
    assert rows["shortshorts"]["reason"].startswith("too short")
    assert rows["cutcutcutcu"]["status"] == "skipped" and rows["cutcutcutcu"]["reason"]
    assert rows["emptyemptye"]["reason"].startswith("empty file")
    assert rows["twicetwicet"]["reason"].startswith("ambiguous")
    assert rows["notesnotesn"]["status"] == rows["nowherenowh"]["status"] == "missing"
    # The rule is a config value: a lower minimum uses the 6 s clip.
    assert probe_videos(["shortshorts"], video_dir, min_duration_s=5.0)[0]["status"] == "used"


def test_summary_adds_up(video_dir):
    rows = probe_videos(IDS, video_dir)
    summary = summarize(rows)
    assert summary["total"] == len(IDS) == sum(summary["by_status"].values())
    assert summary["by_status"] == {"used": 2, "skipped": 4, "missing": 2}
    not_used = summary["by_status"]["skipped"] + summary["by_status"]["missing"]
    assert sum(summary["by_reason"].values()) == not_used
    assert summary["by_reason"]["skipped/too short"] == 1
    assert summarize([]) == {"total": 0, "by_status": {"used": 0, "skipped": 0, "missing": 0},
                             "by_reason": {}}


def test_tsv_round_trip_and_merge(video_dir, tmp_path):
    rows = probe_videos(IDS, video_dir)
    first = write_manifest(tmp_path / "m0.tsv", rows[:3])
    second = write_manifest(tmp_path / "m1.tsv", rows[3:])
    assert first.read_text().splitlines()[0].split("\t") == list(COLUMNS)
    assert read_manifest(first) == rows[:3]
    merged = merge_manifests([first, second], tmp_path / "all.tsv")
    assert merged == rows == read_manifest(tmp_path / "all.tsv")
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match="goodgoodgoo"):
        merge_manifests([first, first], tmp_path / "dup.tsv")


def test_reason_with_tabs_stays_one_field(tmp_path):
    row = make_record("abcdefghijk", "/x.mp4", "skipped", "unreadable: bad\tdata\nhere")
    write_manifest(tmp_path / "m.tsv", [row])
    assert read_manifest(tmp_path / "m.tsv")[0]["reason"] == "unreadable: bad data here"
    with pytest.raises(ValueError, match="status"):
        write_manifest(tmp_path / "m.tsv", [make_record("a", "", "lost")])


def test_feature_skips_from_store_attrs(tmp_path):
    from vplan_core.feature_store import write_store
    attrs = {"feature": "vggish", "model": "vggish", "weights": "random-seed-0",
             "weights_sha256": "", "sampling": {}}
    write_store(tmp_path / "a.zarr", np.zeros((1, 2), np.float32), ["x"],
                {**attrs, "skipped": [["y", "no audio stream"], ["z", "unreadable: junk"]]})
    write_store(tmp_path / "b.zarr", np.zeros((0, 2), np.float32), [],
                {**attrs, "skipped": [["w", "no audio stream"]]})
    skips = feature_skips([tmp_path / "a.zarr", tmp_path / "b.zarr"])
    assert skips["vggish"]["total"] == 3
    assert skips["vggish"]["by_reason"] == {"no audio stream": 2, "unreadable": 1}
    assert skips["vggish"]["videos"][1] == ["z", "unreadable: junk"]


def test_paths_are_kept_exactly(tmp_path):
    """A folder named with two spaces, a tab and a newline: the manifest's path finds the file again."""
    folder = tmp_path / "v  two\tthree\nfour"
    folder.mkdir()
    write_video(folder / "spacedspace_0_10.mp4", seconds=10.0, audio=Audio(1, 16000))
    rows = probe_videos(["spacedspace"], folder)
    write_manifest(tmp_path / "m.tsv", rows)
    (row,) = read_manifest(tmp_path / "m.tsv")
    assert row["status"] == "used" and row["path"] == str(folder / "spacedspace_0_10.mp4")
    assert os.path.isfile(row["path"])


def test_audio_coverage_skips_and_padding_is_written(tmp_path):
    """Audio that ends at 0.2 s is a skip stating its coverage; a 0.5-s leading gap is used and
    the manifest says how much is padded. The threshold is sampling.min_audio_s."""
    write_video(tmp_path / "audioends02_0_10.mp4", seconds=10.0, audio=Audio(2, 44100, seconds=0.2))
    write_video(tmp_path / "audiolate05_0_10.mp4", seconds=10.0, audio=Audio(1, 16000, start_s=0.5, seconds=9.5))
    rows = {r["video_id"]: r for r in probe_videos(["audioends02", "audiolate05"], tmp_path)}
    assert rows["audioends02"]["status"] == "skipped"
    assert rows["audioends02"]["reason"] == "audio coverage: 0.20 s of the 10.00 s of video in [0, 10) s (needs 9.00 s)"
    # 16 kHz AAC's 1024 priming samples (64 ms) come first and count as audio
    assert (rows["audiolate05"]["status"], rows["audiolate05"]["reason"]) == ("used", "audio padded: 0.44 s")
    write_manifest(tmp_path / "m.tsv", rows.values())
    assert read_manifest(tmp_path / "m.tsv") == list(rows.values())
    assert summarize(list(rows.values()))["by_reason"] == {"skipped/audio coverage": 1}
    assert probe_videos(["audioends02"], tmp_path, min_audio_s=0.1)[0]["status"] == "used"
