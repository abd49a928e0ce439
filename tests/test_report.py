"""The report's numbers: mean ± std over seeds with each seed's kept, and its tables."""
from __future__ import annotations

import numpy as np
import pytest

from vplan_core.evaluation.report import ablation_summary, ablation_table, manifest_table, pld_study_table, quality_summary, \
    seed_summary

LEVELS = ("segment_level", "event_level")
KEYS = ("audio", "visual", "audio_visual", "type_at_av", "event_at_av")


def scores(value: float) -> dict:
    return {level: {k: value + i for i, k in enumerate(KEYS)} for level in LEVELS}


def test_seed_summary_keeps_the_layout_with_std_and_per_seed():
    summary = seed_summary([scores(10.0), scores(14.0), scores(15.0)], [0, 1, 2])
    assert summary["segment_level"]["audio"] == pytest.approx(13.0)
    assert summary["std"]["event_level"]["visual"] == pytest.approx(np.std([10, 14, 15], ddof=1))
    assert [s["seed"] for s in summary["per_seed"]] == [0, 1, 2]
    assert summary["per_seed"][1]["segment_level"] == scores(14.0)["segment_level"]
    assert seed_summary([scores(3.0)], [7])["std"]["segment_level"]["audio"] == 0.0  # one seed


def test_ablation_over_seed_groups_and_its_table():
    files = {"row1_han": [{"seeds": [0, 1], "per_seed": [{**scores(10.0), "videos": {"evaluated": 5}},
                                                         {**scores(12.0), "videos": {"evaluated": 5}}]},
                          {"seeds": [2], "per_seed": [{**scores(14.0), "videos": {"evaluated": 5}}]}]}
    ablation = ablation_summary(files)
    assert [s["seed"] for s in ablation["row1_han"]["per_seed"]] == [0, 1, 2]
    assert ablation["row1_han"]["segment_level"]["audio"] == pytest.approx(12.0)
    table = ablation_table(ablation)
    assert "| ① HAN (Eq. 2) | 12.0 ± 2.0 | 13.0 ± 2.0 | 14.0 ± 2.0 | 15.0 ± 2.0 | 16.0 ± 2.0 |" in table
    assert table.count("① HAN") == 2  # segment and event level


def test_quality_summary_per_label_set():
    one = {"videos": 4, "video_level": {"video_label": {"precision": 60.0, "recall": 100.0},
                                        "pld": {"precision": 80.0, "recall": 70.0}},
           "segment_event": {"pld": {"segment_f": 50.0, "event_f": 40.0}}}
    two = {**one, "video_level": {**one["video_level"], "pld": {"precision": 90.0, "recall": 60.0}}}
    quality = quality_summary([{"seeds": [0, 1], "per_seed": [one, two]}])
    assert quality["videos"] == 4
    assert quality["video_level"]["pld"]["precision"] == pytest.approx(85.0)
    assert quality["video_level"]["video_label"]["std"]["precision"] == 0.0
    assert quality["segment_event"]["pld"]["per_seed"][1] == {"seed": 1, "segment_f": 50.0, "event_f": 40.0}


def test_pld_study_summary_and_table():
    one = {"videos": 4, "video_level": {}, "segment_event": {"plg": {"segment_f": 70.0, "event_f": 60.0}},
           "pld_study": {"K = 5, α = 10": {"segment_f": 65.0, "event_f": 55.0},
                         "K = 8, α = 10": {"segment_f": 74.0, "event_f": 70.0}}}
    two = {**one, "pld_study": {**one["pld_study"], "K = 8, α = 10": {"segment_f": 72.0, "event_f": 68.0}}}
    quality = quality_summary([{"seeds": [0], "per_seed": [one]}, {"seeds": [1], "per_seed": [two]}])
    assert quality["pld_study"]["K = 8, α = 10"]["segment_f"] == pytest.approx(73.0)
    table = pld_study_table(quality, "K = 8, α = 10")
    assert "| none (PLG) | 70.0 ± 0.0 | 60.0 ± 0.0 |" in table
    assert "| K = 5, α = 10 | 65.0 ± 0.0 | 55.0 ± 0.0 |" in table
    assert f"| K = 8, α = 10 (configured) | 73.0 ± {np.std([74, 72], ddof=1):.1f} | 69.0 ± 1.4 |" in table
    assert "Not computed" in pld_study_table({k: v for k, v in quality.items() if k != "pld_study"}, "K = 8, α = 10")


def test_manifest_table():
    summary = {"total": 5, "by_status": {"used": 3, "skipped": 1, "missing": 1},
               "by_reason": {"skipped/too short": 1, "missing/no file": 1},
               "feature_skips": {"vggish": {"total": 1, "by_reason": {"no audio stream": 1}},
                                 "clip": {"total": 0, "by_reason": {}}},
               "extra": {"total": 2, "files": ["a.mp4", "b.mp4"]}}
    table = manifest_table(summary).splitlines()
    assert table[2:] == ["| all named by the splits | 5 |", "| used | 3 |", "| skipped | 1 |", "| missing | 1 |",
                         "| skipped/too short | 1 |", "| missing/no file | 1 |",
                         "| used, but skipped by vggish (no audio stream: 1) | 1 |",
                         "| files in dataset.videos named by no split | 2 |"]
