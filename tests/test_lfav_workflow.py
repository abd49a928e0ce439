"""LFAV through the same DAG as LLP (config/lfav.yaml): the dry run over LFAV's real annotation
files (5,175 videos, tests/data/lfav), the refusals at planning, and a features-only run end to
end on a miniature release in LFAV's layout (tests/lfav_release.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.lfav_release import ANNOTATIONS, LFAV, chosen_ids, write_release
from tests.paths import REPO
from tests.workflow_runs import planned_jobs, snakemake, write_config

N_LFAV = 3721 + 486 + 968


def lfav_config(tmp_path: Path, annotations: Path = ANNOTATIONS) -> dict:
    """config/lfav.yaml on tmp_path's folders (the released feature folders made, empty)."""
    config = yaml.safe_load((REPO / "config/lfav.yaml").read_text())
    config["dataset"].update(annotations=str(annotations), official_features=str(tmp_path / "features"))
    for spec in LFAV.released_features.values():
        (tmp_path / "features" / spec.folder).mkdir(parents=True, exist_ok=True)
    return config


def test_real_lfav_annotations_plan(tmp_path):
    config = lfav_config(tmp_path)
    result = snakemake(tmp_path, write_config(tmp_path, config), "-n", "--quiet", "rules")
    jobs = planned_jobs(tmp_path, write_config(tmp_path, config))
    shards = -(-N_LFAV // config["dataset"]["shard_size"])
    assert jobs["probe_official_shard"] == shards
    assert jobs["import_official_features"] == 3 * shards
    assert jobs["train_row"] >= 1 and jobs["report"] == 1
    # the release's 37 rows with onset after offset are named, and evaluated as marking nothing
    assert "37 dense evaluation rows mark nothing" in result.stderr
    assert "skipping row2_plg: trains on segment labels" in result.stderr
    assert "row1_modality_labels" not in result.stderr  # planned: LFAV has each modality's labels


def test_fixed_length_families_and_videos_are_refused_by_name(tmp_path):
    config = lfav_config(tmp_path)
    config["train"]["models"] = ["han", "mgn"]
    result = snakemake(tmp_path, write_config(tmp_path, config), "-n", check=False)
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert "names 'mgn': mgn is built for videos of exactly 10 segments" in said
    assert "lfav's videos vary in length" in said
    config = lfav_config(tmp_path)
    config["dataset"]["videos"] = str(tmp_path)
    result = snakemake(tmp_path, write_config(tmp_path, config), "-n", check=False)
    assert result.returncode != 0 and "config key 'dataset.videos'" in result.stdout + result.stderr


@pytest.mark.slow
def test_lfav_features_only_end_to_end(tmp_path):
    ids = chosen_ids()
    lengths = write_release(tmp_path / "features", ids)
    config = lfav_config(tmp_path)
    config["dataset"]["shard_size"] = 2000
    config["train"].update(device="cpu", seeds=[0, 1], epochs=4, d_model=32, lr=1.0e-3, lr_step=2)
    config["models"]["mm_pyramid"].update(epochs=4, lr=1.0e-3, kwargs=dict(hidden_dim=16, ffn_dim=24, levels=3, nhead=2))
    config["report"]["timeline_clips"] = 2
    snakemake(tmp_path, write_config(tmp_path, config), "--cores", "2")
    results = tmp_path / "results" / "lfav"
    manifest = json.loads(next(results.rglob("manifest_summary.json")).read_text())
    assert manifest["by_status"]["used"] == sum(len(v) for v in ids.values())
    assert manifest["total"] == sum(manifest["by_status"].values()) == N_LFAV  # every annotated video accounted for
    evaluation = json.loads(next(results.glob("eval/han/row1_han/seeds_*.json")).read_text())
    scores = evaluation["per_seed"][0]
    assert set(scores) >= {"segment_level", "event_level", "segment_map", "selection", "dense_rows"}
    assert scores["videos"]["evaluated"] == len(ids["test"])
    counts = scores["dense_rows"]
    assert counts["onset_after_offset"] > 0 and counts["zero_length"] > 0 and counts["past_end"] > 0
    pred = np.load(next(results.rglob("row1_han/**/test_pred.npz")))
    np.testing.assert_array_equal(pred["lengths"], [lengths[vid] for vid in pred["video_ids"]])
    report = (results / "report" / "report.md").read_text()
    assert "segment-level mAP" in report and "zero length" in report
    # ① on each modality's video-level labels, beside ① and compared with it seed by seed
    summary = json.loads((results / "report" / "report.json").read_text())
    assert list(summary["ablation"])[:2] == ["row1_han", "row1_modality_labels"]
    assert summary["differences"]["ablation"]["row1_modality_labels"]["control"] == "row1_han"
    assert "① on modality-wise labels" in report
    assert "| MM-Pyramid its own loss |" in report and "60.5 / 52.3" not in report  # the paper's figures are LLP's
