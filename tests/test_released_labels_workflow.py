"""The workflow on VALOR's released segment labels: the features-only route of
tests/test_llp_workflow.py (official HAN features for a subset of real LLP ids, no video) with
CLIP segment pseudo labels written in the published layout (CLIP/segment_pseudo_labels/<id>.npy),
row ④ on them and row ⑤ on PLD's refinement of them, to the report; then a changed label file
reruns those rows and nothing else."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_llp_workflow import LAYOUT, llp_config, subset_annotations
from tests.test_released_labels import write_release
from tests.workflow_runs import planned_jobs, snakemake, write_config
from vplan_core.data.annotations import load_split
from vplan_core.data.description import SPLITS


@pytest.mark.slow
def test_rows_4_and_5_on_released_clip_labels(tmp_path):
    subset_annotations(tmp_path / "annotations")
    splits = {name: load_split(tmp_path / "annotations", name) for name in SPLITS}
    config = llp_config(tmp_path, annotations=tmp_path / "annotations", videos=False, official=True)
    rng = np.random.default_rng(0)
    for vid in (vid for split in splits.values() for vid in split.video_ids):
        for sub, shape in LAYOUT.values():
            np.save(tmp_path / "official_features" / sub / f"{vid}.npy", rng.random(shape, dtype=np.float32))
    unlabelled = {"train": splits["train"].video_ids[5], "val": splits["val"].video_ids[1]}
    labels = {vid: (rng.random((10, 25)) < 0.6) * split.weak_labels[i]  # VALOR's are within the video label
              for name, split in splits.items() for i, vid in enumerate(split.video_ids) if vid != unlabelled.get(name)}
    release = write_release(tmp_path, labels)
    config["dataset"].update(shard_size=25, released_labels={"visual": str(release)})
    config["plg"]["clip"]["enabled"] = False  # no CLIP features: the released labels are the only ones
    config["train"].update(device="cpu", epochs=2, d_model=32, lr_step=1, batch_size=16, seeds=[0], models=["han"])
    configfile = write_config(tmp_path, config)
    snakemake(tmp_path, configfile, "--cores", "2")

    results = tmp_path / "results/llp"
    for name in ("train", "val"):  # the labels npz is what the files say, for the split's videos (test's: unused)
        split = splits[name]
        with np.load(results / f"labels/released/visual/{name}.npz") as imported:
            ids = [vid for vid in split.video_ids if vid != unlabelled.get(name)]
            assert imported["video_ids"].tolist() == ids
            np.testing.assert_array_equal(imported["segment_labels"], np.stack([labels[vid] for vid in ids]))
        summary = json.loads((results / f"labels/released/visual/{name}.json").read_text())
        assert summary["missing"]["videos"] == ([unlabelled[name]] if name in unlabelled else [])
        assert summary["labelled"] == len(ids) and summary["outside_video_label"] == 0
    with np.load(results / "labels/pld/han/row4_released_rl/seeds_0/seed_0/train_visual.npz") as refined:
        assert len(refined["video_ids"]) == 39  # PLD refined the released train labels
    assert "segment labels flipped" in (tmp_path / "logs/llp/pld/han/row4_released_rl/seeds_0.log").read_text()
    history = json.loads((results / "models/han/row5_released_pld/seeds_0/seed_0/history.json").read_text())
    assert history["videos"]["train"] == {"used": 39, "missing": 1}

    quality = json.loads((results / "eval/label_quality/han/row4_released_rl/visual/seeds_0.json").read_text())
    assert set(quality["per_seed"][0]["segment_event"]) == {"released", "pld"}
    assert quality["left_out"] == [unlabelled["val"]]
    report = json.loads((results / "report/report.json").read_text())
    assert list(report["ablation"]) == ["row1_han", "row4_released_rl", "row5_released_pld"]
    assert report["skipped_rows"] == {
        row: "needs VALOR's released audio labels: set dataset.released_labels.audio"
        for row in ("row6_released_av", "row7_released_av_pld", "valor_released", "valor_released_pld")}
    markdown = (results / "report/report.md").read_text()
    assert "| ④ + RL (Eq. 9) on VALOR's released labels (CLIP) |" in markdown
    assert "| VALOR's released labels + PLD (④'s models) |" in markdown
    assert "with ④'s models (on VALOR's released labels) 11 val videos, left out for want of labels: 1" in markdown

    # a changed label file reruns the import, the rows on released labels and what reads them
    vid = splits["train"].video_ids[0]
    np.save(release / "segment_pseudo_labels" / f"{vid}.npy", np.zeros((10, 25), np.int64))
    assert planned_jobs(tmp_path, configfile) == {"import_released_labels": 2, "train_row": 2, "pld_labels": 1,
                                                  "evaluate_row": 2, "label_quality": 1, "report": 1, "all": 1}
