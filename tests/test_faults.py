"""Bad inputs and faults: every video accounted for, clear errors, nothing lost.

Real files only (mp4s written by tests/media.py, zarr stores, .npy files, checkpoints) and the
real workflow (tests/workflow_runs.py): each broken input gives a correct result or a recorded
skip with its reason, bad values are caught before training with the video named, a killed job
leaves nothing a later run would trust, and bad configs fail before any job starts.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.media import Audio, write_truncated, write_video
from tests.workflow_runs import REPO, snakemake, write_config
from vplan_core.data.annotations import load_split
from vplan_core.data.description import LLP
CLASS_INDEX = LLP.class_index

# ---------------------------------------------------------------- a folder of good and bad videos
# id (11 chars) -> (file name or None, how to write it, expected manifest status, reason category)
GOOD = dict(seconds=10.0, fps=25, width=64, height=48)
VIDEOS: dict[str, tuple[str | None, dict | str | None, str, str]] = {
    "stereo44k__": ("stereo44k___0_10.mp4", dict(GOOD, audio=Audio(2, 44100)), "used", ""),
    "mono8k_odd_": ("mono8k_odd_.mp4", dict(GOOD, fps=24, width=161, height=97, audio=Audio(1, 8000)), "used", ""),
    "mono44k____": ("mono44k____.mp4", dict(GOOD, audio=Audio(1, 44100)), "used", ""),
    "mono48k____": ("mono48k_____5_15.mp4", dict(GOOD, audio=Audio(1, 48000)), "used", ""),
    "six8k______": ("six8k______.mp4", dict(GOOD, audio=Audio(6, 8000)), "used", ""),
    "six44k_____": ("six44k_____.mp4", dict(GOOD, audio=Audio(6, 44100)), "used", ""),
    "six48k-30fp": ("six48k-30fp.mp4", dict(GOOD, fps=30, audio=Audio(6, 48000)), "used", ""),
    "vfr-stereo_": ("vfr-stereo_.mp4", dict(GOOD, vfr=True, audio=Audio(2, 44100, 1000.0)), "used", ""),
    "grayscale__": ("grayscale__.mp4", dict(GOOD, gray=True, audio=Audio(1, 16000)), "used", ""),
    "noaudio-mp4": ("noaudio-mp4.mp4", dict(GOOD, codec="mpeg4"), "used", ""),
    # 238 frames (9.52 s) and 9.50 s of audio: the manifest says how much is padded
    "short9s5pad": ("short9s5pad.mp4", dict(GOOD, seconds=9.5, audio=Audio(2, 44100)), "used", "audio padded"),
    "long14s____": ("long14s_____0_14.mp4", dict(GOOD, seconds=14.0, audio=Audio(2, 44100)), "used", ""),
    "short6s____": ("short6s____.mp4", dict(GOOD, seconds=6.0, audio=Audio(2, 44100)), "skipped", "too short"),
    "zerobytes__": ("zerobytes__.mp4", "zero", "skipped", "empty file"),
    "truncated__": ("truncated__.mp4", "truncated", "skipped", "unreadable"),
    "truncfastst": ("truncfastst.mp4", "truncated_faststart", "skipped", "truncated"),
    "randombytes": ("randombytes.mp4", "random", "skipped", "unreadable"),
    "audio-only_": ("audio-only_.mp4", dict(seconds=10.0, video=False, audio=Audio(2, 44100)), "skipped",
                    "no video stream"),
    "twofiles___": ("twofiles____0_10.mp4", "twice", "skipped", "ambiguous"),
    "notdownload": (None, None, "missing", "no file"),
    # the rest of `vplan parse`'s corpus (tests/test_corpus.py), as the workflow sees it
    "portrait___": ("portrait___.mp4", dict(GOOD, width=24, height=40, audio=Audio(2, 44100)), "used", ""),
    "sixtysecond": ("sixtysecond.mp4", dict(GOOD, seconds=60.0, fps=8, audio=Audio(1, 16000)), "used", ""),
    "halfsecond_": ("halfsecond_.mp4", dict(GOOD, seconds=0.5, audio=Audio(1, 16000)), "skipped", "too short"),
    "textfile___": ("textfile___.mp4", "text", "skipped", "unreadable"),
    # streams that start at 100 s (a cut that kept its source's clock): grayscale__'s content, read alike
    "late100s___": ("late100s____0_10.mp4", dict(GOOD, gray=True, audio=Audio(1, 16000), start_s=100.0), "used", ""),
    # audio that ends at 0.2 s: not read as 9.8 s of silence
    "audio0s2end": ("audio0s2end.mp4", dict(GOOD, audio=Audio(2, 44100, seconds=0.2)), "skipped", "audio coverage"),
}
EXTRA = "notinsplit_.mp4"  # a good video that no split names
NON_ASCII = "fête_ü_音.mp4"  # one more, under a name no LLP id can have
SPLITS = {"train": list(VIDEOS)[:13], "val": list(VIDEOS)[13:17], "test": list(VIDEOS)[17:]}
SPLIT_FILES = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}


def fix_id(vid: str) -> str:
    return vid[:11]


def write_video_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    for vid, (name, how, _, _) in VIDEOS.items():
        if name is None:
            continue
        path = folder / name
        if isinstance(how, dict):
            write_video(path, **how)
        elif how == "zero":
            path.write_bytes(b"")
        elif how == "random":
            path.write_bytes(np.random.default_rng(0).bytes(4096))
        elif how == "text":
            path.write_text("This is a text file, not a video.\n")
        elif how in ("truncated", "truncated_faststart"):
            source = folder.parent / f"_source_{how}.mp4"
            write_video(source, seconds=4.0, width=64, height=48, audio=Audio(2, 44100),
                        faststart=how == "truncated_faststart")
            write_truncated(source, path)
            source.unlink()
        elif how == "twice":
            write_video(path, seconds=1.0, width=64, height=48)
            write_video(folder / f"{vid[:11]}_10_20.mp4", seconds=1.0, width=64, height=48)
    for name in (EXTRA, NON_ASCII):
        write_video(folder / name, **dict(GOOD, seconds=3.0, audio=Audio(2, 44100)))


def llp_name(vid: str) -> str:
    return f"{fix_id(vid)}_0_10"


def write_annotations(folder: Path, extra_rows: dict[str, list[str]] | None = None) -> None:
    """The LLP csv files for SPLITS (one class each); eval files with a duplicate row and an
    onset > offset row (what the real files contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, ids in SPLITS.items():
        lines = ["filename\tevent_labels"] + [f"{llp_name(v)}\tSpeech,Dog" for v in ids]
        lines += (extra_rows or {}).get(split, [])
        (folder / SPLIT_FILES[split]).write_text("\n".join(lines) + "\n")
    first_val = llp_name(SPLITS["val"][0])
    audio = ["filename\tonset\toffset\tevent_labels", f"{first_val}\t0\t3\tSpeech",
             f"{first_val}\t0\t3\tSpeech",  # duplicate row: the same segments, once
             f"{first_val}\t9\t0\tDog"]     # onset > offset: marks nothing (as the reference)
    visual = ["filename\tonset\toffset\tevent_labels", f"{first_val}\t5\t10\tDog"]
    (folder / "AVVP_eval_audio.csv").write_text("\n".join(audio) + "\n")
    (folder / "AVVP_eval_visual.csv").write_text("\n".join(visual) + "\n")


def save_random_clip(path: Path) -> Path:
    """The demo CLIP architecture, untrained (seeded), saved as an open_clip checkpoint file."""
    from vplan_core.demo.clip_training import create_demo_model

    torch.manual_seed(0)
    model, _, _ = create_demo_model()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def real_config(tmp_path: Path) -> dict:
    """config/llp.yaml (a real-data config: no demo section) with tiny random backbones."""
    config = yaml.safe_load((REPO / "config/llp.yaml").read_text())
    config["dataset"] = {"name": "faults", "annotations": str(tmp_path / "annotations"),
                         "videos": str(tmp_path / "videos"), "shard_size": 100,
                         "stray_eval_rows": "warn"}  # as config/llp.yaml: the eval files hold an onset > offset row
    feats = config["features"]
    feats["vggish"] = {"weights": "random:0", "pca": False, "batch_size": 64}
    feats["cnn2d"] = {"backbone": "resnet18", "weights": "random:0", "size": 32, "batch_size": 80}
    feats["r2plus1d"] = {"weights": "random:0", "size": 32, "batch_size": 20}
    feats["clip"] = {"model_name": "vplan-demo-clip", "checkpoint": str(tmp_path / "clip/clip.pt"),
                     "config_file": str(REPO / "vplan_core/demo/vplan-demo-clip.json"),
                     "size": 48, "batch_size": 64}
    config["train"].update(device="cpu", epochs=2, d_model=32, lr_step=1, batch_size=4, models=["han"])
    return config


@pytest.fixture(scope="module")
def faults_run(tmp_path_factory):
    """The workflow up to the manifest summary over the folder of good and bad videos."""
    tmp_path = tmp_path_factory.mktemp("faults")
    write_video_folder(tmp_path / "videos")
    write_annotations(tmp_path / "annotations")
    save_random_clip(tmp_path / "clip/clip.pt")
    configfile = write_config(tmp_path, real_config(tmp_path))
    result = snakemake(tmp_path, configfile, "--cores", "2", "results/faults/manifest_summary.json")
    return tmp_path, result


@pytest.mark.slow
def test_every_video_is_accounted_for(faults_run):
    tmp_path, _ = faults_run
    results = tmp_path / "results/faults"
    summary = json.loads((results / "manifest_summary.json").read_text())
    expected_status = {s: sum(1 for v in VIDEOS.values() if v[2] == s) for s in ("used", "skipped", "missing")}
    assert summary["total"] == len(VIDEOS) == sum(len(ids) for ids in SPLITS.values())
    assert summary["by_status"] == expected_status
    assert sum(summary["by_status"].values()) == summary["total"]
    expected_reasons: dict[str, int] = {}
    for _, _, status, reason in VIDEOS.values():
        if status != "used":
            expected_reasons[f"{status}/{reason}"] = expected_reasons.get(f"{status}/{reason}", 0) + 1
    assert summary["by_reason"] == expected_reasons
    assert sum(summary["by_reason"].values()) == summary["total"] - summary["by_status"]["used"]
    # Per video: the manifest row says what happened and why.
    from vplan_core.data.manifest import read_manifest

    rows = {r["video_id"]: r for r in read_manifest(results / "manifest.tsv")}
    assert set(rows) == {fix_id(v) for v in VIDEOS}
    for vid, (_, _, status, reason) in VIDEOS.items():
        row = rows[fix_id(vid)]
        assert (row["status"], row["reason"].split(":")[0]) == (status, reason), row
    assert rows["noaudio-mp4"]["has_audio"] == 0
    assert rows["long14s____"]["duration_s"] == pytest.approx(14.0, abs=0.1)
    # The video without audio: used for the visual features, skipped by VGGish with the reason.
    assert summary["feature_skips"]["vggish"] == {
        "total": 1, "by_reason": {"no audio stream": 1}, "videos": [["noaudio-mp4", "no audio stream"]]}
    for feature in ("cnn2d", "r2plus1d", "clip"):
        assert summary["feature_skips"][feature]["total"] == 0
    # Files nobody asked for are recorded, not silently ignored.
    assert summary["extra"] == {"total": 2, "files": sorted([EXTRA, NON_ASCII])}


@pytest.mark.slow
def test_feature_stores_hold_exactly_the_used_videos(faults_run):
    tmp_path, _ = faults_run
    from vplan_core.feature_store import read_store

    used = {fix_id(v) for v, spec in VIDEOS.items() if spec[2] == "used"}
    shapes = {"vggish": [10, 128], "cnn2d": [80, 512], "r2plus1d": [10, 512]}
    for feature in ("vggish", "cnn2d", "r2plus1d", "clip"):
        data, ids, attrs = read_store(tmp_path / f"results/faults/features/{feature}/shard_0000.zarr")
        expected = used - {"noaudio-mp4"} if feature == "vggish" else used
        assert set(ids) == expected, feature
        assert np.isfinite(data).all()
        if feature in shapes:
            assert attrs["shape"] == shapes[feature]
        # Streams starting at 100 s: the same features as the same content starting at 0 (up to
        # float rounding: the two videos sit at other places of the model's batches).
        rows = dict(zip(ids, data))
        np.testing.assert_allclose(rows["late100s___"], rows["grayscale__"], rtol=1e-4, atol=1e-6, err_msg=feature)
    # The 9.5 s clip is padded (audio zeros at the end), the 14 s clip cut to its first 10 s:
    # both give the same per-video shape as a 10 s clip (checked above).


@pytest.mark.slow
def test_run_prints_the_summary_line(faults_run):
    _, result = faults_run
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("vplan: ")]
    n_used, n_skipped = (sum(1 for v in VIDEOS.values() if v[2] == status) for status in ("used", "skipped"))
    summary = [line for line in lines if line.startswith(f"vplan: {len(VIDEOS)} videos: ")]
    assert len(summary) == 1  # the stray eval row's warning (dataset.stray_eval_rows: warn) is another line
    line = summary[0]
    assert line.startswith(f"vplan: {len(VIDEOS)} videos: {n_used} used, {n_skipped} skipped, 1 missing (skip reasons: ")
    assert "skipped/too short: 2" in line and "skipped/audio coverage: 1" in line and "missing/no file: 1" in line
    assert "feature skips: vggish: 1 (no audio stream: 1)" in line
    assert "2 file(s) in dataset.videos named by no split" in line


# ---------------------------------------------------------------- annotations
def test_annotation_faults_through_load_split(tmp_path):
    """Duplicate eval rows count once; onset > offset marks nothing (the reference's slicing)."""
    write_annotations(tmp_path)
    val = load_split(tmp_path, "val")
    first = val.filenames.index(llp_name(SPLITS["val"][0]))
    speech, dog = CLASS_INDEX["Speech"], CLASS_INDEX["Dog"]
    assert val.gt_audio[first, :, speech].tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert not val.gt_audio[first, :, dog].any()
    assert val.gt_visual[first, :, dog].tolist() == [0] * 5 + [1] * 5
    assert val.gt_audio.sum() == 3 and val.gt_visual.sum() == 5


@pytest.mark.parametrize("row, message", [
    ("zzzzzzzzzzz_0_10\tSpeech,Unicorn", r"AVVP_train.csv: line 15: unknown class 'Unicorn'"),
    (f"{llp_name('stereo44k__')}\tDog", r"AVVP_train.csv: line 15: duplicate filename 'stereo44k___0_10' "
                                        r"\(first on line 2\)"),
], ids=["unknown-class", "duplicate-row"])
def test_bad_annotation_rows_fail_the_dry_run_naming_file_and_line(tmp_path, row, message):
    import re

    write_annotations(tmp_path / "annotations", extra_rows={"train": [row]})
    (tmp_path / "videos").mkdir()
    save_random_clip(tmp_path / "clip/clip.pt")
    result = snakemake(tmp_path, write_config(tmp_path, real_config(tmp_path)), "--dry-run", check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stderr[-3000:]


# ---------------------------------------------------------------- features and labels
ATTRS = {"feature": "x", "model": "m", "weights": "random-seed-0", "weights_sha256": "", "sampling": {}}
HAN_SHAPES = {"vggish": (10, 4), "cnn2d": (80, 6), "r2plus1d": (10, 5)}


def han_stores(folder: Path, ids: list[str], bad: dict[str, str] | None = None) -> dict[str, list[str]]:
    """One store per HAN feature; bad = {feature: video id whose row gets an inf}."""
    from vplan_core.feature_store import write_store

    stores = {}
    for feature, shape in HAN_SHAPES.items():
        data = np.random.default_rng(0).random((len(ids), *shape), dtype=np.float32)
        if bad and feature in bad:
            data[ids.index(bad[feature]), 3, 1] = np.inf
        stores[feature] = [str(write_store(folder / f"{feature}.zarr", data, ids, dict(ATTRS, feature=feature)))]
    return stores


def test_nan_or_inf_in_a_store_is_caught_before_training_naming_the_video(tmp_path):
    from vplan_core.data.dataset import load_split_data

    write_annotations(tmp_path / "annotations")
    ids = [fix_id(v) for v in SPLITS["train"]]
    assert len(load_split_data(tmp_path / "annotations", "train", han_stores(tmp_path / "ok", ids)).features.video_ids) == 13
    stores = han_stores(tmp_path / "bad", ids, bad={"r2plus1d": "grayscale__"})
    with pytest.raises(ValueError, match=r"r2plus1d\.zarr: NaN/inf in video grayscale__"):
        load_split_data(tmp_path / "annotations", "train", stores)


def test_store_whose_array_disagrees_with_its_declared_shape_is_rejected(tmp_path):
    import zarr

    from vplan_core.data.dataset import load_split_data

    write_annotations(tmp_path / "annotations")
    ids = [fix_id(v) for v in SPLITS["train"]]
    stores = han_stores(tmp_path, ids)
    group = zarr.open_group(stores["cnn2d"][0], mode="r+", zarr_format=3)
    group.attrs["shape"] = [80, 2048]  # what the official res152 features declare
    with pytest.raises(ValueError, match=r"cnn2d\.zarr: array \(13, 80, 6\) does not match attrs shape \[80, 2048\]"):
        load_split_data(tmp_path / "annotations", "train", stores)


@pytest.mark.parametrize("array, message", [
    (np.where(np.arange(1280).reshape(10, 128) == 7, np.inf, 0.5), "1 NaN/inf values"),
    (np.zeros((10, 129), np.float32), "shape (10, 129), the official vggish features are (10, 128)"),
])
def test_bad_official_file_is_caught_on_import_naming_the_file(tmp_path, array, message):
    import re

    from vplan_core.data.manifest import make_record
    from vplan_core.data.official import OfficialFeatureError, import_shard

    (tmp_path / "official/vggish").mkdir(parents=True)
    rows = [make_record("goodgoodgoo", "", "used"), make_record("badbadbadba", "", "used")]
    np.save(tmp_path / "official/vggish/goodgoodgoo.npy", np.zeros((10, 128), np.float32))
    np.save(tmp_path / "official/vggish/badbadbadba.npy", array)
    with pytest.raises(OfficialFeatureError, match=re.escape(f"badbadbadba.npy: {message}")):
        import_shard("vggish", rows, tmp_path / "official", tmp_path / "store.zarr")
    assert not (tmp_path / "store.zarr").exists()


def test_an_npz_named_npy_is_named_as_such(tmp_path):
    """An .npz archive saved under a .npy name loads as named arrays: an error naming the file,
    not an internal error, wherever a released .npy file is read."""
    from vplan_core.data.manifest import make_record
    from vplan_core.data.official import OfficialFeatureError, import_segment_shard, import_shard, map_problems

    rows = [make_record("npznpznpznp", "", "used")]
    for folder, shape in ((tmp_path / "clip", (10, 768)), (tmp_path / "official/vggish", (10, 128))):
        folder.mkdir(parents=True)
        with open(folder / "npznpznpznp.npy", "wb") as fh:
            np.savez(fh, features=np.zeros(shape, np.float32))
    message = r"npznpznpznp\.npy: an \.npz archive of named arrays, not a \.npy file of one array"
    with pytest.raises(OfficialFeatureError, match=message):
        import_segment_shard("clip", rows, tmp_path / "clip", tmp_path / "clip.zarr", "ViT-L-14", {}, "CLIP")
    with pytest.raises(OfficialFeatureError, match=message):
        import_shard("vggish", rows, tmp_path / "official", tmp_path / "vggish.zarr")
    [problem] = map_problems("dataset.clap_feature_maps", tmp_path / "clip", (64, 768))
    assert problem.startswith("config key 'dataset.clap_feature_maps': ") and "an .npz archive" in problem


# ---------------------------------------------------------------- interrupted extraction
EXTRACT = textwrap.dedent("""
    import os, signal, sys, threading, time
    from pathlib import Path
    import torch
    from vplan_core.features.extract import extract_shard
    from vplan_core.data.manifest import read_manifest
    torch.set_num_threads(1)
    manifest, out, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if mode == "kill":  # SIGKILL as soon as the new store's array exists under its tmp name
        def kill_while_writing():
            while not (out.with_name(out.name + ".tmp") / "features").exists():
                time.sleep(0.0002)
            os.kill(os.getpid(), signal.SIGKILL)
        threading.Thread(target=kill_while_writing, daemon=True).start()
    settings = {"backbone": "resnet18", "weights": "random:0", "size": 32, "batch_size": 80}
    extract_shard({"cnn2d": settings}, read_manifest(manifest), {"cnn2d": out})
""")


def extract(manifest: Path, out: Path, mode: str) -> int:
    return subprocess.run([sys.executable, "-c", EXTRACT, str(manifest), str(out), mode], cwd=REPO,
                          timeout=300).returncode


def test_extraction_killed_while_writing_leaves_nothing_to_trust_and_reruns_identically(tmp_path):
    from vplan_core.feature_store import read_store
    from vplan_core.data.manifest import probe_videos, write_manifest

    videos = tmp_path / "videos"
    videos.mkdir()
    for vid, (name, how, _, _) in list(VIDEOS.items())[:3]:
        write_video(videos / name, **how)
    manifest = write_manifest(tmp_path / "manifest.tsv", probe_videos(list(VIDEOS)[:3], videos))
    reference, store = tmp_path / "reference.zarr", tmp_path / "results/cnn2d.zarr"
    assert extract(manifest, reference, "run") == 0
    ref_data, ref_ids, _ = read_store(reference)
    assert ref_ids == list(VIDEOS)[:3]

    # Killed during the first write: no store under the final name, only the stale tmp.
    assert extract(manifest, store, "kill") == -signal.SIGKILL
    assert not store.exists() and store.with_name("cnn2d.zarr.tmp").exists()
    # The rerun cleans up and completes; the result equals the uninterrupted run's.
    assert extract(manifest, store, "run") == 0
    data, ids, _ = read_store(store)
    assert ids == ref_ids
    np.testing.assert_array_equal(data, ref_data)
    assert sorted(p.name for p in store.parent.iterdir()) == ["cnn2d.zarr"]
    # Killed while rewriting it: the previous store stays whole.
    assert extract(manifest, store, "kill") == -signal.SIGKILL
    data, ids, _ = read_store(store)
    assert ids == ref_ids
    np.testing.assert_array_equal(data, ref_data)


# ---------------------------------------------------------------- bad config
@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c.update(trian={"epochs": 3}),
     "config key '<top level>': Additional properties are not allowed ('trian' was unexpected); allowed keys: "
     "dataset, demo, features, models, pld, plg, report, rl, sampling, train"),
    (lambda c: c["train"].update(epochs=-3), "config key 'train.epochs': -3 is out of range (allowed: {'minimum': 1})"),
    (lambda c: c["plg"]["clip"].update(tau=1.0), "config key 'plg.clip.tau': 1.0 is out of range (allowed: "
                                          "{'exclusiveMinimum': 0, 'exclusiveMaximum': 1})"),
    (lambda c: c["train"].update(lr="1e-4"), "config key 'train.lr': '1e-4' is a string, expected a number "
                                              "(YAML reads 1e-4 as a string: write 1.0e-4)"),
], ids=["unknown-top-level-key", "negative-epochs", "tau-not-in-(0,1)", "lr-string"])
def test_config_errors_name_key_and_allowed_values(mutate, expected):
    from vplan_core.config import ConfigError, validate_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    mutate(config)
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert expected in str(error.value)


def test_missing_paths_are_reported_before_any_job_starts(tmp_path):
    config = real_config(tmp_path)  # nothing written: no annotations, videos or CLIP file
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "missing inputs:" in text
    assert f"config key 'dataset.annotations': path does not exist: {tmp_path / 'annotations'}" in text
    assert f"config key 'dataset.videos': path does not exist: {tmp_path / 'videos'}" in text
    assert f"config key 'features.clip.checkpoint': weights file not found: '{tmp_path / 'clip/clip.pt'}'" in text
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
