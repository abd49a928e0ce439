"""The report's numbers: mean ± std over seeds with each seed's kept, and its tables."""
from __future__ import annotations

import numpy as np
import pytest

from vplan_core.evaluation.report import ablation_difference_table, ablation_differences, ablation_summary, \
    ablation_table, label_notes, limits_paragraph, manifest_table, pld_study_table, quality_differences, \
    quality_difference_table, quality_summary, row_name, seed_summary, table_v_difference_table, \
    table_v_differences
from vplan_core.method.ablation import ROWS, Row, check_rows
from vplan_core.plan import LABELLED_MODALITIES

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


def seeds_of(values: list[float]) -> dict:
    """A row's ablation summary whose seeds 0, 1, 2 score values[s] + i on every metric i."""
    return {**seed_summary([scores(v) for v in values], [0, 1, 2]), "videos": {"evaluated": 5, "in_split": 5}}


def test_each_row_minus_its_control_marked_where_beyond_noise():
    """Row ② has row ①'s mean (not marked); row ④ is row ②'s three spreads higher (marked); row ⑤
    has its control ④ in the run, row ③'s control (②) is there too."""
    ablation = {"row1_han": seeds_of([60.0, 62.0, 64.0]), "row2_plg": seeds_of([62.0, 64.0, 60.0]),
                "row4_plg_rl": seeds_of([70.0, 68.0, 66.0]), "row5_vplan": seeds_of([70.5, 68.0, 66.0])}
    diffs = ablation_differences(ablation)
    assert {row: d["control"] for row, d in diffs.items()} == {"row2_plg": "row1_han", "row4_plg_rl": "row2_plg",
                                                               "row5_vplan": "row4_plg_rl"}
    assert not diffs["row2_plg"]["segment_level"]["type_at_av"]["beyond_noise"]
    assert diffs["row4_plg_rl"]["event_level"]["audio"]["mean"] == pytest.approx(6.0)
    assert diffs["row4_plg_rl"]["event_level"]["audio"]["beyond_noise"]
    table = ablation_difference_table(diffs).splitlines()
    assert "| ② + PLG (Eq. 5) | ① HAN (Eq. 2) | +0.0 ± 3.5 | +0.0 ± 3.5 |" in table[2]
    assert table[3].startswith("| ④ + PLG + RL (Eq. 9) | ② + PLG (Eq. 5) | +6.0 ± 2.0 † | +6.0 ± 2.0 † |")
    assert "†" not in table[4]  # ⑤: + 0.17 over ④, one seed of three
    assert sum(line.startswith("| ④") for line in table) == 2  # segment and event level
    tv = table_v_differences({"han": {row: ablation[row] for row in ("row1_han", "row2_plg", "row5_vplan")}})
    assert {row: d["control"] for row, d in tv["han"].items()} == {"row2_plg": "row1_han", "row5_vplan": "row1_han"}
    row5 = tv["han"]["row5_vplan"]["segment_level"]["visual"]  # + 10.5, + 6, + 2 over ①'s seeds: they scatter
    assert row5["mean"] == pytest.approx(37 / 6) and not row5["beyond_noise"]
    assert "| HAN + PLD + RL | its own loss | +6.2 ± 4.3 |" in table_v_difference_table(tv)


def test_every_control_names_another_row():
    assert all(row.control in ROWS for name, row in ROWS.items() if name != "row1_han")
    bad = {**ROWS, "row9": Row("row9", "⑨", "⑨", "han", control="row8_nowhere")}
    with pytest.raises(ValueError, match="row9: its control 'row8_nowhere' is no other row"):
        check_rows(bad, LABELLED_MODALITIES)


def quality_of(video_f: float, plg_f: list[float], pld_f: list[float]) -> dict:
    per_seed = [{"videos": 4, "video_level": {"video_label": {"precision": 60.0, "recall": 100.0},
                                              "plg": {"precision": 80.0, "recall": 90.0},
                                              "pld": {"precision": 80.0 + p - g, "recall": 90.0}},
                 "segment_event": {"video_label": {"segment_f": video_f, "event_f": video_f},
                                   "plg": {"segment_f": g, "event_f": g}, "pld": {"segment_f": p, "event_f": p}}}
                for g, p in zip(plg_f, pld_f)]
    return quality_summary([{"seeds": [0, 1, 2], "per_seed": per_seed}])


def test_label_sets_against_their_controls_and_rows_on_worse_labels():
    """Audio PLG (CLAP) below the video label at segment level: rows ⑥ and the other rows on those
    labels are noted; PLD (⑦'s labels) is above it, so ⑦ is not. PLD vs PLG: + 5 on every seed."""
    quality = {"audio": {"row6_plg_av": quality_of(70.0, [60.0] * 3, [72.0, 76.0, 74.0])},
               "visual": {"row4_plg_rl": quality_of(50.0, [60.0] * 3, [61.0, 59.0, 60.0])}}
    notes = label_notes(quality)
    assert notes == {("audio", "PLG", 60.0, 70.0): ["row6_plg_av", "row6_plg_av_rl", "valor_plg"]}
    entries = quality_differences(quality["audio"], "audio")
    assert [(name, control) for name, control, _ in entries] == [("PLG", "video label as audio label"),
                                                                 ("PLG + PLD (⑥'s models)", "PLG")]
    table = quality_difference_table(entries, "audio").splitlines()
    assert table[2] == ("| PLG | video label as audio label | +20.0 ± 0.0 † | -10.0 ± 0.0 † | -10.0 ± 0.0 † | "
                        "-10.0 ± 0.0 † |")
    assert table[3].endswith("| +14.0 ± 2.0 † | +14.0 ± 2.0 † |")
    visual = quality_difference_table(quality_differences(quality["visual"], "visual"), "visual").splitlines()
    assert "†" not in visual[3]  # PLD = PLG on average
    ablation = {"row1_han": seeds_of([60.0, 62.0, 64.0]), "row6_plg_av": seeds_of([50.0, 52.0, 54.0])}
    marked = ablation_table(ablation, notes).splitlines()
    assert marked[3].startswith("| ⑥ + PLG-AV: CLIP and CLAP labels, audio labels where they mark silence ‡ |")
    assert "‡" not in marked[2]
    assert marked[-1] == ("‡ Audio labels PLG: segment-level F 60.0 on val, below the video label's 70.0; trained on "
                          "by ⑥ + PLG-AV.")  # the other rows on those labels are not in this table


def test_limits_paragraph():
    ablation = {"row1_han": seeds_of([60.0, 62.0, 64.0]), "row2_plg": seeds_of([68.0, 66.0, 70.0])}
    comparisons = [(row_name(row), row_name(d["control"]), d) for row, d in ablation_differences(ablation).items()]
    videos = {"evaluated": 48, "in_split": 50}
    demo = limits_paragraph([0, 1, 2], videos, comparisons, True, [("audio", "PLG", 60.0, 70.0)])
    assert demo.startswith("**What these numbers can show.** Every row was trained with 3 seeds ([0, 1, 2]) and "
                           "scored on 48 test videos (of 50 in the split).")
    assert "exceeds 2.5 times the spread" in demo and "of the 10 differences tested, about 0.5 would be" in demo
    assert ("Beyond noise: ② + PLG (Eq. 5) minus ① HAN (Eq. 2): segment-level A +6.0, segment-level V +6.0, "
            "segment-level AV +6.0") in demo
    assert "This is the demo" in demo and "docs/studies.md" in demo
    assert ("Rows marked ‡ train on labels whose segment-level F on val is below the video label's: audio PLG (the "
            "notes") in demo
    llp = limits_paragraph([0, 1, 2], videos, comparisons[:0], False, [])
    assert "This is the demo" not in llp and "No difference is beyond seed noise." in llp
    one = limits_paragraph([0], videos, comparisons, False, [])
    assert "with one seed no difference can be told from seed noise" in one and "Beyond noise" not in one
