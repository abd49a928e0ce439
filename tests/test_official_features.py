"""A data set's released features (data/official.py) laid out by its description: LFAV's release
of one row per second, imported into ragged zarr stores and read back exactly, with LFAV's real
ids; its manifest from the files alone (used, skipped, missing for every annotated id)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vplan_core.data.description import describe
from vplan_core.data.official import OfficialFeatureError, check_layout, import_shard, status_records
from vplan_core.data.shards import all_video_ids, split_video_ids
from vplan_core.feature_store import load_features, read_store, store_lengths

LFAV = describe("lfav")
LFAV_DIR = Path(__file__).parent / "data/lfav/LFAV_dataset"
AUDIO, RES18, R21D = (LFAV.released_features[f].folder for f in ("vggish", "cnn2d", "r2plus1d"))


def lfav_ids() -> dict[str, list[str]]:
    """The first four real ids of each split."""
    return {split: split_video_ids(LFAV_DIR, split, LFAV)[:4] for split in ("train", "val", "test")}


def write_release(root: Path, rows: dict[str, dict[str, int]], seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """LFAV's layout: root/<folder>/<id>.npy of [T, D] per feature, with `rows` as feature -> T per id
    (a feature left out of an id's entry: no file). VGGish as float64, the others float32, as
    released files may be (cast on import). Returns feature -> id -> the array written."""
    rng = np.random.default_rng(seed)
    written: dict[str, dict[str, np.ndarray]] = {f: {} for f in LFAV.released_features}
    for vid, per_feature in rows.items():
        for feature, t in per_feature.items():
            released = LFAV.released_features[feature]
            array = rng.standard_normal((t, released.shape[1])).astype(np.float64 if feature == "vggish" else np.float32)
            (root / released.folder).mkdir(parents=True, exist_ok=True)
            np.save(root / released.folder / f"{vid}.npy", array)
            written[feature][vid] = array
    return written


def all_three(t: int) -> dict[str, int]:
    return {feature: t for feature in LFAV.released_features}


def test_lfav_release_imports_into_ragged_stores_read_back_exactly(tmp_path):
    ids = lfav_ids()
    (a, b, c, _), (d, e, f, _), (g, h, _, _) = ids["train"], ids["val"], ids["test"]
    release = tmp_path / "release"
    written = write_release(release, {
        a: all_three(1), b: all_three(7), c: all_three(160), d: all_three(160), h: all_three(7),
        e: {"vggish": 12, "r2plus1d": 12},                    # no res18 file: skipped in the manifest
        f: {"vggish": 160, "cnn2d": 161, "r2plus1d": 160},    # rows differ: a recorded skip of each store
    })                                                         # g: no file at all: missing
    shard = [a, b, c, d, e, f, g, h]
    records = status_records(shard, release, LFAV)
    by_id = {r["video_id"]: r for r in records}
    assert [r["video_id"] for r in records] == shard
    assert {vid: by_id[vid]["status"] for vid in shard} == {
        a: "used", b: "used", c: "used", d: "used", e: "skipped", f: "used", g: "missing", h: "used"}
    assert by_id[e]["reason"] == f"incomplete official features: no {RES18}"
    assert by_id[g]["reason"] == "no official features"
    assert [by_id[vid]["duration_s"] for vid in (a, b, c, f)] == [1.0, 7.0, 160.0, 160.0]  # the audio file's rows
    assert by_id[c]["path"] == str(release / AUDIO / f"{c}.npy")

    used = [a, b, c, d, h]
    for feature in LFAV.released_features:
        summary = import_shard(feature, records, release, tmp_path / f"{feature}.zarr", LFAV)
        assert summary["n_written"] == 5 and summary["shape"] == [None, LFAV.released_features[feature].shape[1]]
        assert summary["skipped"] == [[f, f"rows differ: {AUDIO} 160, {RES18} 161, {R21D} 160"]]
        data, stored_ids, attrs = read_store(tmp_path / f"{feature}.zarr")
        assert stored_ids == used and attrs["lengths"] == [1, 7, 160, 160, 7]
        assert attrs["shape"] == [None, LFAV.released_features[feature].shape[1]]
        assert attrs["model"] == f"official {LFAV.released_features[feature].folder}"
        assert attrs["weights"] == "official pre-extracted features (GeWu-Lab/LFAV)"
        assert attrs["sampling"] == {**LFAV.released_features[feature].sampling, "source": str(release.resolve())}
        order = [h, c, a, d, b]
        loaded = load_features([tmp_path / f"{feature}.zarr"], order)
        for vid, array in zip(order, loaded):
            assert array.dtype == np.float32
            np.testing.assert_array_equal(array, written[feature][vid].astype(np.float32))
        np.testing.assert_array_equal(store_lengths([tmp_path / f"{feature}.zarr"], order), [7, 160, 1, 160, 7])


def test_a_used_video_without_its_file_is_a_recorded_skip(tmp_path):
    """A manifest made from videos may name a used video the release lacks: each store records it."""
    (a, b, *_) = lfav_ids()["train"]
    write_release(tmp_path / "release", {a: all_three(3), b: {"vggish": 3, "r2plus1d": 3}})
    records = [dict(r, status="used") for r in status_records([a, b], tmp_path / "release", LFAV)]
    summary = import_shard("cnn2d", records, tmp_path / "release", tmp_path / "cnn2d.zarr", LFAV)
    assert summary["skipped"] == [[b, f"no official feature file: {tmp_path / 'release' / RES18 / b}.npy"]]
    assert read_store(tmp_path / "cnn2d.zarr")[1] == [a]


def test_every_annotated_lfav_id_has_a_manifest_record(tmp_path):
    """The release's manifest accounts for all 5,175 annotated ids, from the files alone."""
    ids = all_video_ids(LFAV_DIR, LFAV)
    write_release(tmp_path / "release", {ids[0]: all_three(5), ids[1]: {"vggish": 5}})
    records = status_records(ids, tmp_path / "release", LFAV)
    statuses = [r["status"] for r in records]
    assert len(records) == len(ids) == 5175
    assert (statuses.count("used"), statuses.count("skipped"), statuses.count("missing")) == (1, 1, 5173)
    assert records[1]["reason"] == f"incomplete official features: no {RES18}, {R21D}"


def test_empty_shard_and_bad_files(tmp_path):
    (a, *_) = lfav_ids()["test"]
    release = tmp_path / "release"
    summary = import_shard("vggish", [], release, tmp_path / "empty.zarr", LFAV)
    assert summary["n_written"] == 0 and read_store(tmp_path / "empty.zarr")[2]["shape"] == [None, 128]
    write_release(release, {a: all_three(4)})
    np.save(release / AUDIO / f"{a}.npy", np.zeros((4, 127), np.float32))
    with pytest.raises(OfficialFeatureError, match=re.escape(f"{a}.npy: shape (4, 127), the official {AUDIO} "
                                                             "features are (T, 128)")):
        status_records([a], release, LFAV)
    np.save(release / AUDIO / f"{a}.npy", np.full((4, 128), np.nan, np.float32))
    records = status_records([a], release, LFAV)
    with pytest.raises(OfficialFeatureError, match=re.escape(f"{a}.npy: 512 NaN/inf values")):
        import_shard("vggish", records, release, tmp_path / "nan.zarr", LFAV)
    write_release(release, {a: all_three(0)})
    summary = import_shard("r2plus1d", records, release, tmp_path / "none.zarr", LFAV)
    assert summary["skipped"] == [[a, f"no rows: {release / AUDIO / a}.npy has none"]]


def test_layout_problems_name_the_descriptions_folders(tmp_path):
    (tmp_path / AUDIO).mkdir()
    assert check_layout(tmp_path, LFAV) == [
        f"config key 'dataset.official_features': no folder {tmp_path / folder} (expected {folder}/<id>.npy of "
        f"shape (T, 512), as lfav's release lays them out)" for folder in (RES18, R21D)]


@pytest.mark.slow  # about 30 s: Snakemake plans the 5,175 ids
def test_the_workflow_probes_and_imports_lfavs_release(tmp_path):
    """probe_official_shard and import_official_features read the description the config names:
    LFAV's real annotation files, a release of three videos (one whose rows differ) and one
    video with its audio file only; the three ragged stores of shard 0."""
    from tests.test_llp_workflow import llp_config
    from tests.workflow_runs import snakemake, write_config

    config = llp_config(tmp_path, annotations=LFAV_DIR.resolve(), videos=False, official=True)
    config["dataset"].update(description="lfav", name="lfav", shard_size=6000)
    config["train"]["models"] = ["han"]
    ids = all_video_ids(LFAV_DIR, LFAV)
    release = Path(config["dataset"]["official_features"])
    write_release(release, {ids[0]: all_three(3), ids[1]: all_three(200),
                            ids[2]: {"vggish": 5, "cnn2d": 6, "r2plus1d": 5}, ids[3]: {"vggish": 4}})
    stores = [f"results/lfav/features/{feature}/shard_0000.zarr" for feature in LFAV.released_features]
    snakemake(tmp_path, write_config(tmp_path, config), "--cores", "2", *stores)
    statuses = [line.split("\t")[2] for line in (tmp_path / "results/lfav/manifest/shard_0000.tsv").read_text().splitlines()[1:]]
    assert (statuses.count("used"), statuses.count("skipped"), statuses.count("missing")) == (3, 1, 5171)
    for store in stores:
        _, stored, attrs = read_store(tmp_path / store)
        assert stored == ids[:2] and attrs["lengths"] == [3, 200]
        assert attrs["skipped"] == [[ids[2], f"rows differ: {AUDIO} 5, {RES18} 6, {R21D} 5"]]
