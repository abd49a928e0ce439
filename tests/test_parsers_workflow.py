"""Table V in the workflow: MGN and MM-Pyramid trained on the tiny demo's PLG / PLD labels beside
HAN, as a change to a finished run (only the new family's jobs run; HAN's outputs stay)."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from tests.workflow_runs import copy_run, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow

TINY_FAMILIES = {  # small instances, official argument names; two epochs like the tiny HAN rows
    "mgn": {"epochs": 2, "batch_size": 4, "lr": 3.0e-4, "kwargs": {"dim": 16, "depth_aud": 1, "depth_vis": 1, "depth_av": 1,
                                                     "num_heads": 2, "num_heads_grouping": 2}},
    "mm_pyramid": {"epochs": 2, "batch_size": 4, "lr": 1.0e-4, "kwargs": {"hidden_dim": 16, "ffn_dim": 16, "levels": 2, "nhead": 2}},
}


@pytest.fixture(scope="module")
def parsers_run(tiny_demo, tmp_path_factory):
    source, config = tiny_demo
    workdir = copy_run(source, tmp_path_factory.mktemp("parsers"))
    han_before = {p: p.stat().st_mtime_ns for p in (workdir / "results/tiny/models").rglob("model.pt")}
    changed = copy.deepcopy(config)
    changed["train"]["models"] = ["han", "mgn", "mm_pyramid"]
    changed["models"] = TINY_FAMILIES
    configfile = write_config(workdir, changed, "parsers.yaml")
    planned = planned_jobs(workdir, configfile)
    snakemake(workdir, configfile, "--cores", "2")
    return workdir, changed, configfile, planned, han_before


def test_a_family_added_to_the_list_trains_only_its_own_jobs(parsers_run):
    workdir, _, configfile, planned, han_before = parsers_run
    # rows 1 and 2 of each family, row 5 on HAN's PLD labels (no PLD job of its own), their
    # evaluations and the report; nothing of HAN's reruns
    assert planned == {"train_row": 6, "evaluate_row": 6, "report": 1, "all": 1}
    assert {p: p.stat().st_mtime_ns for p in han_before} == han_before
    assert planned_jobs(workdir, configfile) == {}


def test_table_v_in_the_report(parsers_run):
    workdir = parsers_run[0]
    results = workdir / "results/tiny"
    report = json.loads((results / "report/report.json").read_text())
    assert set(report["parsers"]) == {"mgn", "mm_pyramid"}
    for rows in report["parsers"].values():
        assert set(rows) == {"row1_han", "row2_plg", "row5_vplan"}
        for summary in rows.values():
            assert [s["seed"] for s in summary["per_seed"]] == [0, 1]
            assert 0.0 <= summary["segment_level"]["visual"] <= 100.0
    markdown = (results / "report/report.md").read_text()
    segment_table = markdown[markdown.index("| parser, labels (segment level)"):markdown.index("| parser, labels (event level)")]
    for family, title in (("mgn", "MGN"), ("mm_pyramid", "MM-Pyramid"), ("han", "HAN")):
        for row, short in (("row1_han", "its own loss"), ("row5_vplan", "+ PLD + RL")):
            line = next(line for line in segment_table.splitlines() if line.startswith(f"| {title} {short} |"))
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            # the cells are what the evaluation files hold, as mean ± std over the seeds ...
            evaluation = json.loads((results / f"eval/{family}/{row}/seeds_0-1.json").read_text())
            visual = np.array([seed["segment_level"]["visual"] for seed in evaluation["per_seed"]])
            assert cells[2] == f"{visual.mean():.1f} ± {visual.std(ddof=1):.1f}"
            # ... beside the paper's figures for that family and row
            paper = {"mgn": {"row1_han": "60.8 / 55.4", "row5_vplan": "59.6 / 64.0"},
                     "mm_pyramid": {"row1_han": "60.5 / 52.3", "row5_vplan": "60.1 / 64.8"},
                     "han": {"row1_han": "60.1 / 52.9", "row5_vplan": "61.1 / 65.5"}}[family][row]
            assert cells[-1].startswith(paper)


def test_checkpoints_record_their_family_and_rebuild_it(parsers_run):
    from vplan_core.training.checkpoints import load_checkpoint

    results = parsers_run[0] / "results/tiny"
    for family, cls in (("mgn", "MGN"), ("mm_pyramid", "MMPyramid")):
        path = results / f"models/{family}/row5_vplan/seeds_0-1/seed_1/model.pt"
        model, payload = load_checkpoint(path)
        assert payload["family"] == family and type(model).__name__ == cls
        assert payload["train_config"]["lr"] == pytest.approx(3.0e-4 if family == "mgn" else 1.0e-4)
        assert payload["train_config"]["batch_size"] == 4 and payload["train_config"]["model"] == family
        assert torch.is_tensor(next(iter(model.state_dict().values())))
    han = load_checkpoint(results / "models/han/row5_vplan/seeds_0-1/seed_1/model.pt")[1]
    assert han["family"] == "han"


def test_own_pld_source_adds_the_familys_row_4_and_pld_job(parsers_run):
    workdir, config, _, _, _ = parsers_run
    changed = copy.deepcopy(config)
    changed["models"]["mgn"]["pld_source"] = "own"
    planned = planned_jobs(workdir, write_config(workdir, changed, "own.yaml"))
    assert planned == {"train_row": 2, "pld_labels": 1, "evaluate_row": 2, "report": 1, "all": 1}
