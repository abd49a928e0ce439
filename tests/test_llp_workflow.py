"""Real LLP at full scale: config/llp.yaml over the real annotation files.

The dry runs plan the 11,849-video DAG (fake, empty video / official-feature folders) and must
take seconds; the end-to-end run trains and evaluates row 1 on random features written in the
official format for a subset of real LLP ids (no videos: rows 2-5 are skipped, with a note).
"""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
import yaml

from tests.test_llp import LLP_DIR
from tests.workflow_runs import REPO, planned_jobs, snakemake, write_config
from vplan_core.official import LAYOUT

N_LLP = 11849


def llp_config(tmp_path: Path, annotations: Path = LLP_DIR, videos: bool = True, official: bool = True) -> dict:
    config = yaml.safe_load((REPO / "config/llp.yaml").read_text())
    config["dataset"]["annotations"] = str(annotations)
    for key, wanted in (("videos", videos), ("official_features", official)):
        config["dataset"].pop(key)
        if wanted:
            folder = tmp_path / key
            folder.mkdir(exist_ok=True)
            config["dataset"][key] = str(folder)
    if official:
        for sub, _, _ in LAYOUT.values():
            (tmp_path / "official_features" / sub).mkdir(exist_ok=True)
    weights = tmp_path / "weights"  # placeholders: the dry run checks that the files exist and
    weights.mkdir(exist_ok=True)    # that the CLIP one is a CLIP checkpoint (a tiny open_clip one)
    for section, key in (("vggish", "weights"), ("vggish", "pca_params"), ("cnn2d", "weights"),
                         ("r2plus1d", "weights"), ("clip", "checkpoint")):
        path = weights / Path(config["features"][section][key]).name
        if section == "clip":
            torch.save({"visual.proj": torch.zeros(2, 2), "token_embedding.weight": torch.zeros(3, 2)}, path)
        else:
            path.touch()
        config["features"][section][key] = str(path)
    return config


def dry_run(tmp_path: Path, config: dict) -> tuple[dict, float]:
    configfile = write_config(tmp_path, config)
    started = time.perf_counter()
    jobs = planned_jobs(tmp_path, configfile)
    return jobs, time.perf_counter() - started


@pytest.mark.parametrize("videos, official", [(True, True), (False, True), (True, False)],
                         ids=["official+videos", "official-only", "videos-only"])
def test_full_llp_dag_plans_in_seconds(tmp_path, videos, official):
    config = llp_config(tmp_path, videos=videos, official=official)
    jobs, seconds = dry_run(tmp_path, config)
    shards = math.ceil(N_LLP / config["dataset"]["shard_size"])
    assert shards == 40
    expected_rows = 5 if videos else 1  # each row one job: its five seeds train batched
    assert jobs["train_row"] == expected_rows and jobs["evaluate_row"] == expected_rows
    if official:
        assert jobs["probe_official_shard"] == shards
        assert jobs["import_official_features"] == 3 * shards
        assert jobs.get("extract_features", 0) == (shards if videos else 0)  # CLIP only
    else:
        assert "import_official_features" not in jobs and "probe_official_shard" not in jobs
        assert jobs["extract_features"] == 4 * shards
    assert jobs.get("probe_shard", 0) == (shards if videos else 0)
    if videos:
        # one PLD job for both splits and all five seeds (one seed group)
        assert jobs["report"] == 1 and jobs["pld_labels"] == 1 and "skipped_rows" not in jobs
    else:
        assert jobs["skipped_rows"] == 1 and not {"report", "plg_labels", "pld_labels"} & set(jobs)
    assert seconds < 30, f"dry run of the full LLP DAG took {seconds:.1f} s"


def test_missing_weight_file_is_reported_before_any_job(tmp_path):
    config = llp_config(tmp_path, videos=True, official=False)
    missing = tmp_path / "nowhere/resnet152.pth"
    config["features"]["cnn2d"]["weights"] = str(missing)
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "features.cnn2d.weights" in text and str(missing) in text
    assert "download.pytorch.org/models/resnet152" in text


def test_unusable_clip_checkpoint_is_reported_before_any_job(tmp_path):
    """A ResNet state dict where the CLIP checkpoint belongs (each rejected form: test_clip_checkpoints)."""
    config = llp_config(tmp_path)
    wrong = tmp_path / "weights/resnet18-f37072fd.pth"
    torch.save(torchvision.models.resnet18().state_dict(), wrong)
    config["features"]["clip"]["checkpoint"] = str(wrong)
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in text
    assert f"config key 'features.clip.checkpoint' = {str(wrong)!r}" in text
    assert "a torch zip state dict that is no CLIP checkpoint (122 tensors, e.g. conv1.weight" in text
    assert "OpenAI's TorchScript release" in text  # what would be accepted


def test_official_only_needs_no_cnn_weights(tmp_path):
    """Imported features need no backbone weights: only extracted features are checked."""
    config = llp_config(tmp_path, videos=False, official=True)
    config["features"]["cnn2d"]["weights"] = str(tmp_path / "absent.pth")
    jobs, _ = dry_run(tmp_path, config)
    assert jobs["import_official_features"] == 120


# ---------------------------------------------------------------- end to end, official format
def subset_annotations(out: Path, n_train: int = 40, n_val: int = 12, n_test: int = 12) -> dict[str, list[str]]:
    """Real LLP rows (filenames, labels) for the first videos of each split; eval rows filtered."""
    out.mkdir(parents=True)
    keep: dict[str, list[str]] = {}
    for split, name, n in (("train", "AVVP_train.csv", n_train), ("val", "AVVP_val_pd.csv", n_val),
                           ("test", "AVVP_test_pd.csv", n_test)):
        lines = (LLP_DIR / name).read_text().splitlines()
        (out / name).write_text("\n".join(lines[: n + 1]) + "\n")
        keep[split] = [line.split("\t")[0] for line in lines[1 : n + 1]]
    files = {f for names in keep.values() for f in names}
    for name in ("AVVP_eval_audio.csv", "AVVP_eval_visual.csv", "AVVP_dataset_full.csv"):
        lines = (LLP_DIR / name).read_text().splitlines()
        (out / name).write_text("\n".join([lines[0]] + [l for l in lines[1:] if l.split("\t")[0] in files]) + "\n")
    return keep


@pytest.mark.slow
def test_official_features_end_to_end(tmp_path):
    keep = subset_annotations(tmp_path / "annotations")
    ids = [name[:11] for names in keep.values() for name in names]
    config = llp_config(tmp_path, annotations=tmp_path / "annotations", videos=False, official=True)
    rng = np.random.default_rng(0)
    absent = {ids[3], ids[45]}  # a deleted video (train) and one (val) missing its res152 file
    for vid in ids:
        for feature, (sub, shape, _) in LAYOUT.items():
            if vid == ids[3] or (vid == ids[45] and feature == "cnn2d"):
                continue
            dtype = np.float64 if feature == "vggish" else np.float32  # cast on import
            np.save(tmp_path / "official_features" / sub / f"{vid}.npy", rng.random(shape).astype(dtype))
    config["dataset"]["shard_size"] = 25
    config["train"].update(device="cpu", epochs=2, d_model=32, lr_step=1, batch_size=16)
    configfile = write_config(tmp_path, config)
    started = time.perf_counter()
    snakemake(tmp_path, configfile, "--cores", "2")
    results = tmp_path / "results/llp"
    summary = json.loads((results / "manifest_summary.json").read_text())
    assert summary["total"] == 64
    assert summary["by_status"] == {"used": 62, "skipped": 1, "missing": 1}
    assert summary["by_reason"] == {"skipped/incomplete official features": 1, "missing/no official features": 1}
    group = "seeds_0-1-2-3-4"  # config/llp.yaml's five seeds, one batched job
    evaluation = json.loads((results / f"eval/row1_han/{group}.json").read_text())
    assert evaluation["seeds"] == [0, 1, 2, 3, 4]
    for scores in evaluation["per_seed"]:
        assert scores["videos"] == {"evaluated": 12, "in_split": 12}
        for level in ("segment_level", "event_level"):
            assert all(0.0 <= v <= 100.0 for v in scores[level].values())
    history = json.loads((results / f"models/row1_han/{group}/seed_3/history.json").read_text())
    assert history["seed"] == 3
    assert history["videos"]["train"] == {"used": 39, "missing": 1}
    assert history["videos"]["val"] == {"used": 11, "missing": 1}
    note = json.loads((results / "eval/skipped_rows.json").read_text())
    assert note["trained"] == ["row1_han"] and len(note["skipped"]) == 4
    assert not (results / "models/row2_plg").exists()
    import zarr
    attrs = dict(zarr.open_group(str(results / "features/cnn2d/shard_0000.zarr"), mode="r").attrs)
    assert attrs["model"] == "official res152" and attrs["shape"] == [80, 2048]
    assert time.perf_counter() - started < 120


def test_import_rejects_bad_files(tmp_path):
    from vplan_core.manifest import make_row
    from vplan_core.official import OfficialFeatureError, import_shard

    folder = tmp_path / "official" / "vggish"
    folder.mkdir(parents=True)
    rows = [make_row("abcdefghijk", "", "used")]
    for array, message in ((np.zeros((10, 127)), "shape (10, 127)"),
                           (np.full((10, 128), np.nan), "NaN/inf"),
                           (np.array([["a"] * 128] * 10), "not numeric")):
        np.save(folder / "abcdefghijk.npy", array)
        with pytest.raises(OfficialFeatureError, match=re.escape(message)) as info:
            import_shard("vggish", rows, tmp_path / "official", tmp_path / "store.zarr")
        assert "abcdefghijk.npy" in str(info.value)
