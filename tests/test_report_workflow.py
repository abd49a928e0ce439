"""The tiny demo's report says what its numbers mean: its first paragraph states its limits (seeds,
test videos, the rule, what it marked, that the demo proves the pipeline and not the method), each
row stands beside its control with the differences marked where beyond noise, and the figure of
each seed against its control's is made."""
from __future__ import annotations

import json

import pytest

from tests.test_llp_workflow import assert_markers_match
from vplan_core.method.ablation import ROWS

pytestmark = pytest.mark.slow


def test_the_demo_report_states_its_limits_and_marks_differences(tiny_demo):
    workdir, config = tiny_demo
    folder = workdir / "results/tiny/report"
    markdown, report = (folder / "report.md").read_text(), json.loads((folder / "report.json").read_text())
    title, limits = markdown.split("\n\n")[:2]
    assert title == "# vplan report: tiny"
    assert limits.startswith("**What these numbers can show.** Every row was trained with 2 seeds ([0, 1]) and "
                             "scored on 4 test videos (of 4 in the split).")
    assert "paired t-test over the seeds" in limits and "exceeds 9.0 times the spread" in limits
    assert ("This is the demo: its backbones, CLIP and CLAP are small and trained in a synthetic world, so its rows "
            "prove that the pipeline runs end to end and are no evidence for the method") in limits
    assert "docs/studies.md" in limits and limits == report["limits"]
    for row, diff in report["differences"]["ablation"].items():  # every row but ① beside its control
        assert diff["control"] == ROWS[row].control and f"| {ROWS[diff['control']].title} | " in markdown
    assert set(report["differences"]["ablation"]) == set(report["ablation"]) - {"row1_han"}
    audio = report["label_quality"]["audio"]["row6_plg_av"]["segment_event"]
    plg, video = audio["plg"]["segment_f"], audio["video_label"]["segment_f"]
    if plg < video:  # the demo CLAP's labels, second by second: said beside the rows on them and at the top
        assert "| ⑥ + PLG-AV: CLIP and CLAP labels, audio labels where they mark silence ‡ |" in markdown
        assert (f"‡ Audio labels PLG: segment-level F {plg:.1f} on val, below the video label's {video:.1f}; trained "
                f"on by ⑥ + PLG-AV, ⑥ as first built, VALOR's loss") in markdown
        assert "below the video label's: " in limits and "audio PLG" in limits
    assert ("Rows marked ‡" in limits) == any(line.startswith("‡ ") for line in markdown.splitlines())
    assert_markers_match(report, markdown)
    assert (folder / "seed_points.png").stat().st_size > 0
