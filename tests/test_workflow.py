"""End to end: the real Snakemake workflow on a tiny generated demo, then rerun behaviour."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from tests.workflow_runs import planned_jobs, snakemake, tiny_demo_config, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    config = tiny_demo_config()
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, "--cores", "2")
    return workdir, config, configfile


def test_outputs_and_report(tiny_run):
    workdir, config, _ = tiny_run
    results = workdir / "results/tiny"
    report = json.loads((results / "report/report.json").read_text())
    assert set(report["ablation"]) == {"row1_han", "row2_plg", "row3_plg_segbce", "row4_plg_rl", "row5_vplan"}
    for scores in report["ablation"].values():
        for level in ("segment_level", "event_level"):
            assert all(0.0 <= v <= 100.0 for v in scores[level].values())
    assert report["manifest"]["counts"]["used"] == 18
    for name in ("report.md", "per_class_visual_f1.png", "timelines.png"):
        assert (results / "report" / name).stat().st_size > 0
    pred = np.load(results / "models/row5_vplan/test_pred.npz")
    assert pred["visual_prob"].shape == (4, 10, 25)
    for rule in ("demo_videos", "extract_features", "train_row", "report"):
        assert list((workdir / "benchmarks/tiny").rglob("*.tsv")), rule
    assert "①" in (results / "report/report.md").read_text()


def test_second_run_does_nothing(tiny_run):
    workdir, _, configfile = tiny_run
    assert planned_jobs(workdir, configfile) == {}


def test_pld_alpha_reruns_only_pld_and_after(tiny_run):
    workdir, config, _ = tiny_run
    changed = copy.deepcopy(config)
    changed["pld"]["alpha"] = 5.0
    jobs = planned_jobs(workdir, write_config(workdir, changed, "alpha.yaml"))
    assert jobs == {"pld_labels": 2, "train_row": 1, "evaluate_row": 1, "label_quality": 1, "report": 1, "all": 1}


def test_plg_tau_reruns_no_feature_extraction(tiny_run):
    workdir, config, _ = tiny_run
    changed = copy.deepcopy(config)
    changed["plg"]["tau"] = 0.05
    jobs = planned_jobs(workdir, write_config(workdir, changed, "tau.yaml"))
    assert jobs["plg_labels"] == 3 and jobs["train_row"] == 4
    assert not {"extract_features", "probe_shard", "demo_videos", "demo_clip", "clip_text_embeddings"} & set(jobs)
