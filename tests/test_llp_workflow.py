"""Real LLP at full scale: config/llp.yaml over the real annotation files.

The dry runs plan the 11,849-video DAG (fake, empty video / official-feature folders) and must
take seconds; the end-to-end run trains and evaluates row 1 on random features written in the
official format for a subset of real LLP ids (no videos: rows 2-5 are skipped, with a note in the
report), and with CLIP features in VALOR's format as well, all five rows without a single video.
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
from vplan_core.data.description import LLP
from vplan_core.plan import model_family

# feature -> (folder, per-video shape) of the official release
LAYOUT = {f: (released.folder, released.shape) for f, released in LLP.released_features.items()}

N_LLP = 11849


VALOR_RELEASE = ("clip_features", "clip_frame_rule", "clap_feature_maps", "released_labels")  # llp.yaml's dataset keys


def llp_config(tmp_path: Path, annotations: Path = LLP_DIR, videos: bool = True, official: bool = True,
               valor: bool = False) -> dict:
    """config/llp.yaml on tmp_path's folders; without `valor`, the paper's route: VALOR's release,
    the parsers that need it and its ViT-L-14 left out (CLIP from the videos with ViT-B-32)."""
    config = yaml.safe_load((REPO / "config/llp.yaml").read_text())
    config["dataset"]["annotations"] = str(annotations)
    if not valor:
        for key in VALOR_RELEASE:
            config["dataset"].pop(key)
        config["train"]["models"] = [m for m in config["train"]["models"] if model_family(config, m) != "valor"]
        config["features"]["clip"]["model_name"] = "ViT-B-32"
    for key, wanted in (("videos", videos), ("official_features", official)):
        config["dataset"].pop(key)
        if wanted:
            folder = tmp_path / key
            folder.mkdir(exist_ok=True)
            config["dataset"][key] = str(folder)
    if official:
        for sub, _ in LAYOUT.values():
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
    # Table V: MGN and MM-Pyramid train their own loss, PLG and PLD rows (row 1 alone without CLIP)
    # on the labels PLD made with HAN's row-4 models: one PLD job
    parser_rows = 3 if videos else 1
    assert jobs["train_row"] == jobs["evaluate_row"] == expected_rows + 2 * parser_rows
    assert jobs.get("pld_labels", 0) == (1 if videos else 0)
    if official:
        assert jobs["probe_official_shard"] == shards
        assert jobs["import_official_features"] == 3 * shards
        assert jobs.get("extract_features", 0) == (shards if videos else 0)  # CLIP only
    else:
        assert "import_official_features" not in jobs and "probe_official_shard" not in jobs
        assert jobs["extract_features"] == shards  # one job a shard for all four features
    assert jobs.get("probe_shard", 0) == (shards if videos else 0)
    assert jobs["report"] == 1  # with whatever rows ran
    if videos:
        assert jobs["pld_labels"] == 1  # one PLD job for both splits and all five seeds (one seed group)
    else:
        assert not {"plg_labels", "pld_labels", "label_quality"} & set(jobs)
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


@pytest.mark.parametrize("mode", ["remote", "subprocess"])
def test_a_jobs_own_snakemake_leaves_the_input_checks_to_the_submitting_run(tmp_path, mode):
    """A cluster job parses the workflow again (exec mode remote or subprocess) for its one job;
    the run that submitted it has checked the inputs, so the job does not check them again."""
    config = llp_config(tmp_path, videos=True, official=False)
    config["features"]["cnn2d"]["weights"] = str(tmp_path / "nowhere/resnet152.pth")
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", "--mode", mode, check=False)
    text = result.stdout + result.stderr
    assert result.returncode == 0 and "missing inputs" not in text, text[-2000:]


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
        for feature, (sub, shape) in LAYOUT.items():
            if vid == ids[3] or (vid == ids[45] and feature == "cnn2d"):
                continue
            dtype = np.float64 if feature == "vggish" else np.float32  # cast on import
            np.save(tmp_path / "official_features" / sub / f"{vid}.npy", rng.random(shape).astype(dtype))
    config["dataset"]["shard_size"] = 25
    config["train"].update(device="cpu", epochs=2, d_model=32, lr_step=1, batch_size=16, models=["han"])
    configfile = write_config(tmp_path, config)
    started = time.perf_counter()
    snakemake(tmp_path, configfile, "--cores", "2")
    results = tmp_path / "results/llp"
    summary = json.loads((results / "manifest_summary.json").read_text())
    assert summary["total"] == 64
    assert summary["by_status"] == {"used": 62, "skipped": 1, "missing": 1}
    assert summary["by_reason"] == {"skipped/incomplete official features": 1, "missing/no official features": 1}
    group = "seeds_0-1-2-3-4"  # config/llp.yaml's five seeds, one batched job
    evaluation = json.loads((results / f"eval/han/row1_han/{group}.json").read_text())
    assert evaluation["seeds"] == [0, 1, 2, 3, 4]
    for scores in evaluation["per_seed"]:
        assert scores["videos"] == {"evaluated": 12, "in_split": 12}
        for level in ("segment_level", "event_level"):
            assert all(0.0 <= v <= 100.0 for v in scores[level].values())
    history = json.loads((results / f"models/han/row1_han/{group}/seed_3/history.json").read_text())
    assert history["seed"] == 3
    assert history["videos"]["train"] == {"used": 39, "missing": 1}
    assert history["videos"]["val"] == {"used": 11, "missing": 1}
    report = json.loads((results / "report/report.json").read_text())
    assert list(report["ablation"]) == ["row1_han"] and report["label_quality"] == {}
    assert set(report["skipped_rows"]) == {"row2_plg", "row3_plg_segbce", "row4_plg_rl", "row5_vplan"}
    assert "Skipped: ⑤ + PLD + RL (VPLAN): needs CLIP pseudo labels (PLG)" in (results / "report/report.md").read_text()
    assert not (results / "models/han/row2_plg").exists()
    import zarr
    attrs = dict(zarr.open_group(str(results / "features/cnn2d/shard_0000.zarr"), mode="r").attrs)
    assert attrs["model"] == "official res152" and attrs["shape"] == [80, 2048]
    assert time.perf_counter() - started < 120


def test_import_rejects_bad_files(tmp_path):
    from vplan_core.data.manifest import make_record
    from vplan_core.data.official import OfficialFeatureError, import_shard

    folder = tmp_path / "official" / "vggish"
    folder.mkdir(parents=True)
    rows = [make_record("abcdefghijk", "", "used")]
    for array, message in ((np.zeros((10, 127)), "shape (10, 127)"),
                           (np.full((10, 128), np.nan), "NaN/inf"),
                           (np.array([["a"] * 128] * 10), "not numeric")):
        np.save(folder / "abcdefghijk.npy", array)
        with pytest.raises(OfficialFeatureError, match=re.escape(message)) as info:
            import_shard("vggish", rows, tmp_path / "official", tmp_path / "store.zarr")
        assert "abcdefghijk.npy" in str(info.value)


@pytest.mark.slow
def test_official_clip_and_clap_features_run_all_seven_rows_without_a_video(tmp_path):
    """The features-only route: official HAN features plus CLIP image embeddings in VALOR's format
    (<id>.npy, 10 x D, L2-normalised; D = the configured CLIP's text width) and CLAP window
    embeddings of the same layout (D = the configured CLAP's). One video is gone altogether; in each
    split one lacks its CLIP file, one its CLAP file and one an official (VGGish) file. The run
    completes, and every consumer leaves out what its features lack and says so: training, PLD,
    evaluation and label quality."""
    from vplan_core.demo.clap_training import train_demo_clap
    from vplan_core.demo.clip_training import create_demo_model

    keep = subset_annotations(tmp_path / "annotations")
    ids = [name[:11] for names in keep.values() for name in names]
    config = llp_config(tmp_path, annotations=tmp_path / "annotations", videos=False, official=True)
    clip_dir, clap_dir = tmp_path / "CLIP/features", tmp_path / "CLAP/window_embeddings"
    clip_dir.mkdir(parents=True)
    clap_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    gone = ids[3]  # a train video with no file at all
    # ids 0-39 train, 40-51 val, 52-63 test: in each split one video lacks one kind of file
    no_clip, no_clap, no_vggish = [ids[i] for i in (5, 41, 53)], [ids[i] for i in (6, 42, 54)], [ids[i] for i in (7, 43, 55)]
    for vid in ids:
        if vid == gone:
            continue
        for feature, (sub, shape) in LAYOUT.items():
            if not (feature == "vggish" and vid in no_vggish):
                np.save(tmp_path / "official_features" / sub / f"{vid}.npy", rng.random(shape, dtype=np.float32))
        if vid not in no_clip:
            emb = rng.standard_normal((10, 128)).astype(np.float32)
            np.save(clip_dir / f"{vid}.npy", emb / np.linalg.norm(emb, axis=1, keepdims=True))
        if vid not in no_clap:
            emb = rng.standard_normal((10, 32)).astype(np.float32)  # the demo CLAP's 32-d joint space
            np.save(clap_dir / f"{vid}.npy", emb / np.linalg.norm(emb, axis=1, keepdims=True))
    torch.manual_seed(0)
    model, _, _ = create_demo_model()  # text tower only is used: 128-d like the features
    checkpoint = tmp_path / "weights/clip.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    clap_checkpoint = tmp_path / "weights/clap"  # a transformers ClapModel folder (text tower used)
    train_demo_clap(clap_checkpoint, n_examples=32, epochs=1, batch_size=32)
    config["dataset"].update(clip_features=str(clip_dir), clap_features=str(clap_dir), shard_size=25,
                             clip_frame_rule="10 frames evenly spaced over the clip (VALOR)",
                             clap_window_rule="ten 1-s windows (VALOR)")
    config["features"]["clap"] = {"checkpoint": str(clap_checkpoint), "fusion": True}
    config["plg"]["clap"] = {"enabled": True}
    config["features"]["clip"].update(model_name="vplan-demo-clip", checkpoint=str(checkpoint),
                                      config_file=str(REPO / "vplan_core/demo/vplan-demo-clip.json"))
    config["train"].update(device="cpu", epochs=2, d_model=32, lr_step=1, batch_size=16, seeds=[0, 1], models=["han"])
    snakemake(tmp_path, write_config(tmp_path, config), "--cores", "2")

    results = tmp_path / "results/llp"
    summary = json.loads((results / "manifest_summary.json").read_text())
    assert summary["total"] == 64 and summary["by_status"] == {"used": 60, "skipped": 3, "missing": 1}
    assert summary["by_reason"] == {"skipped/incomplete official features": 3, "missing/no official features": 1}
    for feature, lacking in (("clip", no_clip), ("clap", no_clap)):
        assert summary["feature_skips"][feature]["total"] == 3
        assert sorted(v[0] for v in summary["feature_skips"][feature]["videos"]) == sorted(lacking)
    report = json.loads((results / "report/report.json").read_text())
    assert list(report["ablation"]) == ["row1_han", "row2_plg", "row3_plg_segbce", "row4_plg_rl", "row5_vplan",
                                        "row6_plg_av", "row7_plg_av_pld", "row6_plg_av_rl", "valor_plg"]
    assert report["skipped_rows"] == {}
    # label quality on val leaves out the videos without PLG labels or parser inputs (for PLD), by name
    visual, audio = report["label_quality"]["visual"]["row4_plg_rl"], report["label_quality"]["audio"]["row6_plg_av"]
    assert sorted(visual["left_out"]) == sorted([no_clip[1], no_vggish[1]]) and visual["videos"] == 10
    assert sorted(audio["left_out"]) == sorted([no_clip[1], no_clap[1], no_vggish[1]]) and audio["videos"] == 9
    assert visual["video_level"]["pld"]["per_seed"] and set(audio["video_level"]) == {"video_label", "plg", "pld"}
    markdown = (results / "report/report.md").read_text()
    assert (f"with ④'s models 10 val videos, left out for want of labels: 2 "
            f"({', '.join(sorted([no_clip[1], no_vggish[1]]))})") in markdown
    # each row against its control, paired by seed, marked where beyond noise, as on the demo; not called the demo
    limits = markdown.split("\n\n")[1]
    assert limits.startswith("**What these numbers can show.** Every row was trained with 2 seeds ([0, 1]) and scored "
                             "on 11 test videos (of 12 in the split).") and "paired t-test" in limits
    assert "This is the demo" not in markdown
    assert set(report["differences"]["ablation"]) == set(report["ablation"]) - {"row1_han"}
    assert re.search(r"\| ⑤ \+ PLD \+ RL \(VPLAN\)( ‡)? \| ④ \+ PLG \+ RL \(Eq\. 9\) \| ", markdown)
    assert "| PLG + PLD (④'s models) | PLG | " in markdown and "| PLG | video label as audio label | " in markdown
    assert_markers_match(report, markdown)
    # training leaves out what each row lacks; the test split is scored on the videos with inputs
    histories = {row: json.loads((results / f"models/han/{row}/seeds_0-1/seed_0/history.json").read_text())
                 for row in ("row1_han", "row4_plg_rl", "row5_vplan", "row6_plg_av", "row7_plg_av_pld")}
    assert histories["row1_han"]["videos"]["train"] == {"used": 38, "missing": 2}  # gone, no VGGish
    for row in ("row4_plg_rl", "row5_vplan"):  # and the one without a CLIP file
        assert histories[row]["videos"]["train"] == {"used": 37, "missing": 3}
    for row in ("row6_plg_av", "row7_plg_av_pld"):  # and the one without a CLAP file
        assert histories[row]["videos"]["train"] == {"used": 36, "missing": 4}
    for row, entry in report["ablation"].items():
        assert entry["videos"] == {"evaluated": 11, "in_split": 12}, row  # the test video without VGGish
    import zarr
    attrs = dict(zarr.open_group(str(results / "features/clip/shard_0000.zarr"), mode="r").attrs)
    assert attrs["sampling"]["source"] == str(clip_dir.resolve()) and attrs["shape"] == [10, 128]
    assert attrs["sampling"]["frame_rule"].startswith("10 frames evenly spaced")
    assert "vplan-demo-clip" in attrs["model"]
    attrs = dict(zarr.open_group(str(results / "features/clap/shard_0000.zarr"), mode="r").attrs)
    assert attrs["sampling"]["window_rule"] == "ten 1-s windows (VALOR)" and attrs["shape"] == [10, 32]


def assert_markers_match(report: dict, markdown: str) -> None:
    """Every difference in report.json beyond noise (p < 5%) is marked † in a table of report.md,
    and no other."""
    rows = [*report["differences"]["ablation"].values(),
            *(diff for by_row in report["differences"]["parsers"].values() for diff in by_row.values())]
    cells = [d for diff in rows for part, by_metric in diff.items() if part != "control" for d in by_metric.values()]
    cells += [d for entries in report["differences"]["label_quality"].values() for entry in entries
              for part in ("video_level", "segment_event") for d in entry.get(part, {}).values()]
    assert cells and all(d["beyond_noise"] == (d["p"] is not None and d["p"] < 0.05) for d in cells)
    table_lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert sum(line.count("†") for line in table_lines) == sum(d["beyond_noise"] for d in cells)


def test_clip_features_of_another_width_are_refused_before_any_job(tmp_path):
    config = llp_config(tmp_path, videos=False, official=True)
    clip_dir, clap_dir = tmp_path / "CLIP/features", tmp_path / "CLAP/window_embeddings"
    clip_dir.mkdir(parents=True)
    clap_dir.mkdir(parents=True)
    np.save(clip_dir / "abcdefghijk.npy", np.zeros((10, 768), np.float32))  # VALOR's ViT-L/14 width
    config["dataset"]["clip_features"] = str(clip_dir)  # with llp.yaml's ViT-B-32: 512-d text
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in text
    assert ("config key 'dataset.clip_features': image embeddings of width 768" in text
            and "config key 'features.clip.model_name' = 'ViT-B-32' gives text embeddings of width 512" in text)
