"""VALOR's released segment pseudo labels as a label source: reading the release as published
(CLIP.zip, or the folder it unzips to), the import's account of each split's videos, the rows
on released labels in the plan, and their label quality in the report. The workflow run is in
tests/test_released_labels_workflow.py."""
from __future__ import annotations

import copy
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.test_plan import llp
from vplan_core.data.annotations import Split
from vplan_core.data.official import OfficialFeatureError
from vplan_core.data.released_labels import check_release, fingerprint, import_split, label_files
from vplan_core.evaluation.report import label_quality_section, quality_summary, quality_tables
from vplan_core.method.ablation import PLD, RELEASED, ROWS, check_rows, released
from vplan_core.paths import RunPaths
from vplan_core.plan import (LABELLED_MODALITIES, feature_sources, input_problems, label_input, pld_job, quality_job,
                             quality_jobs, row_job)

IDS = ["-00BDwKBD5i", "00fs8Gpipss", "0ABCdefghij", "zzzzzzzzzzz"]
PATHS = RunPaths("llp")


def write_release(root: Path, labels: dict[str, np.ndarray], name: str = "CLIP") -> Path:
    """The published layout: <name>/features/ and <name>/segment_pseudo_labels/<id>.npy (int64)."""
    (root / name / "features").mkdir(parents=True)
    (root / name / "segment_pseudo_labels").mkdir()
    for vid, array in labels.items():
        np.save(root / name / "segment_pseudo_labels" / f"{vid}.npy", array.astype(np.int64))
        np.save(root / name / "features" / f"{vid}.npy", np.zeros((10, 768), np.float32))
    return root / name


def zip_release(folder: Path, path: Path) -> Path:
    """The folder zipped as CLIP.zip is published (entries under CLIP/), with a macOS fork copy."""
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*.npy")):
            archive.write(file, file.relative_to(folder.parent).as_posix())
        archive.writestr(f"__MACOSX/{folder.name}/segment_pseudo_labels/._{IDS[0]}.npy", b"\0")
    return path


def split_of(ids: list[str], weak: np.ndarray) -> Split:
    return Split(name="train", filenames=[f"{vid}_30_40" for vid in ids], video_ids=ids, weak_labels=weak,
                 gt_audio=None, gt_visual=None)


@pytest.fixture
def release(tmp_path):
    """A release for three of the four videos, within each video's label but for one pair."""
    rng = np.random.default_rng(0)
    weak = np.zeros((4, 25), np.uint8)
    weak[:, :3] = 1
    labels = {vid: (rng.random((10, 25)) < 0.5) * weak[i] for i, vid in enumerate(IDS[:3])}
    labels[IDS[2]][3, 7] = 1  # class 7 is none of the video's
    return write_release(tmp_path, labels), split_of(IDS, weak), labels


def test_a_split_is_imported_exactly_with_the_missing_video_counted(release, tmp_path):
    folder, split, labels = release
    for source in (folder, folder / "segment_pseudo_labels", zip_release(folder, tmp_path / "CLIP.zip")):
        ids, imported, summary = import_split(source, split)
        assert ids == IDS[:3] and imported.dtype == np.uint8
        np.testing.assert_array_equal(imported, np.stack([labels[vid] for vid in IDS[:3]]))
        assert summary["missing"] == {"count": 1, "videos": [IDS[3]]}
        assert (summary["videos"], summary["labelled"], summary["outside_video_label"]) == (4, 3, 1)
        assert summary["source"] == str(Path(source).resolve())


def test_a_malformed_file_is_an_error_naming_it(release, tmp_path):
    folder, split, _ = release
    bad = folder / "segment_pseudo_labels" / f"{IDS[1]}.npy"
    for case, (array, message) in enumerate(((np.zeros((10, 24)), "shape (10, 24)"), (np.full((10, 25), 2), "binary"))):
        np.save(bad, array)
        (tmp_path / str(case)).mkdir()
        archive = zip_release(folder, tmp_path / str(case) / "CLIP.zip")
        for source, named in ((folder, str(bad)), (archive, f"CLIP.zip/CLIP/segment_pseudo_labels/{IDS[1]}.npy")):
            with pytest.raises(OfficialFeatureError, match=re.escape(message)) as info:
                import_split(source, split)
            assert named in str(info.value)
    bad.write_bytes(b"not numpy")
    with pytest.raises(OfficialFeatureError, match="not a readable .npy file") as info:
        import_split(folder, split)
    assert str(bad) in str(info.value)


def test_listing_fingerprint_and_checks(release, tmp_path):
    folder, _, labels = release
    archive = zip_release(folder, tmp_path / "CLIP.zip")
    with label_files(archive) as files:
        assert sorted(files) == sorted(labels)  # the features and the macOS copies are not labels
    before = {source: fingerprint(source) for source in (folder, archive)}
    assert check_release("k", folder) == [] and check_release("k", archive) == []
    np.save(folder / "segment_pseudo_labels" / f"{IDS[0]}.npy", np.zeros((10, 25), np.int64))
    assert fingerprint(folder) != before[folder]
    archive.unlink()
    assert fingerprint(zip_release(folder, archive)) != before[archive]  # a zip's CRCs see the content
    (tmp_path / "empty").mkdir()
    (tmp_path / "bytes.zip").write_bytes(b"no zip")
    assert "no <id>.npy segment pseudo labels" in check_release("dataset.released_labels.visual", tmp_path / "empty")[0]
    assert "neither a folder nor a zip" in check_release("dataset.released_labels.visual", tmp_path / "bytes.zip")[0]


# ---------------------------------------------------------------- rows and the plan
RELEASED_ROWS = {"row4_released_rl", "row5_released_pld", "row6_released_av", "row7_released_av_pld"}


def official(**released_labels) -> dict:
    config = llp(official_features="o")
    if released_labels:
        config["dataset"]["released_labels"] = released_labels
    return config


def test_released_rows_are_planned_for_the_configured_modalities_only():
    assert not RELEASED_ROWS & (set(feature_sources(official()).rows) | set(feature_sources(official()).skipped_rows))
    sources = feature_sources(official(visual="CLIP.zip"))
    assert sources.released_labels == ("visual",)
    assert {"row4_released_rl", "row5_released_pld"} <= set(sources.rows)
    assert sources.skipped_rows["row7_released_av_pld"] == ("needs VALOR's released audio labels: "
                                                            "set dataset.released_labels.audio")
    both = feature_sources(official(visual="CLIP.zip", audio="CLAP.zip"))
    assert RELEASED_ROWS <= set(both.rows) and both.released_labels == ("visual", "audio")


def test_a_family_naming_a_released_row_without_its_labels_is_a_config_error():
    config = official(visual="CLIP.zip")
    config["train"]["models"] = ["han", "mgn"]
    config["models"]["mgn"]["rows"] = ["row1_han", "row5_released_pld"]
    assert "row5_released_pld" in feature_sources(config).rows
    config["models"]["mgn"]["rows"].append("row7_released_av_pld")
    with pytest.raises(ValueError, match=re.escape("config key 'models.mgn.rows' names row7_released_av_pld, which "
                                                   "cannot run: needs VALOR's released audio labels")):
        feature_sources(config)


def test_released_labels_feed_training_pld_and_label_quality():
    config = official(visual="CLIP.zip", audio="CLAP")
    row4 = row_job(PATHS, config, "row4_released_rl", "0-1", "han")
    assert row4.inputs == {"labels_visual": "results/llp/labels/released/visual/train.npz"}
    assert row4.params["labels"] == {"visual": RELEASED}
    row7 = row_job(PATHS, config, "row7_released_av_pld", "0-1", "han")
    assert row7.params["labels"] == {"visual": PLD, "audio": PLD}
    assert set(row7.inputs.values()) == {"results/llp/labels/pld/han/row6_released_av/seeds_0-1"}
    pld = pld_job(PATHS, config, "han", "row6_released_av", "0-1")
    assert pld.inputs["val_audio"] == "results/llp/labels/released/audio/val.npz"
    assert pld.params["modalities"] == ["visual", "audio"]
    rows = {"han": list(feature_sources(config).rows)}
    assert {job for job in quality_jobs(config, rows) if "released" in job[1]} == {
        ("han", "row4_released_rl", "visual"), ("han", "row6_released_av", "visual"), ("han", "row6_released_av", "audio"),
        ("han", "valor_released", "visual"), ("han", "valor_released", "audio")}
    quality = quality_job(PATHS, config, "han", "row4_released_rl", "visual", "0-1")
    assert quality.inputs["source"] == "results/llp/labels/released/visual/val.npz"
    assert quality.params["source"] == RELEASED
    assert label_input(PATHS, config, ROWS["row2_plg"].visual, "han", "0-1", "train") == \
        "results/llp/labels/plg/clip/train.npz"


def test_rows_check_the_modality_of_released_labels():
    row4 = ROWS["row4_released_rl"]
    with pytest.raises(ValueError, match=re.escape("VALOR's released audio labels for its visual labels")):
        check_rows({**ROWS, row4.name: replace(row4, visual=released("audio"))}, LABELLED_MODALITIES)
    with pytest.raises(ValueError, match=re.escape("unknown label source 'valor'")):
        check_rows({**ROWS, row4.name: replace(row4, visual=replace(row4.visual, kind="valor"))}, LABELLED_MODALITIES)
    assert all("VALOR's released labels" in ROWS[row].title for row in RELEASED_ROWS)


def test_input_problems_name_the_released_labels_key(tmp_path):
    config = official(visual=str(tmp_path / "nowhere.zip"), audio=str(tmp_path))
    config["dataset"]["official_features"] = str(tmp_path)
    problems = input_problems(config, feature_sources(config))
    assert f"config key 'dataset.released_labels.visual': path does not exist: {tmp_path / 'nowhere.zip'}" in problems
    assert any(p.startswith("config key 'dataset.released_labels.audio': no <id>.npy") for p in problems)


def test_config_schema_takes_released_labels():
    from vplan_core.config import ConfigError, validate_config

    config = official(visual="CLIP.zip")
    validate_config(config)
    bad = copy.deepcopy(config)
    bad["dataset"]["released_labels"] = {"video": "x"}
    with pytest.raises(ConfigError, match="dataset.released_labels"):
        validate_config(bad)


# ---------------------------------------------------------------- the report
def quality_file(source: str, f: float) -> dict:
    one = {"videos": 4, "video_level": {name: {"precision": f, "recall": f} for name in ("video_label", source, "pld")},
           "segment_event": {name: {"segment_f": f, "event_f": f} for name in (source, "pld")},
           "pld_study": {"K = 8, α = 10": {"segment_f": f, "event_f": f}}}
    return {"seeds": [0], "per_seed": [one], "left_out": []}


def test_label_quality_shows_released_labels_beside_plg():
    quality = {"row4_plg_rl": quality_summary([quality_file("plg", 70.0)]),
               "row4_released_rl": quality_summary([quality_file("released", 60.0)])}
    table1, table2 = quality_tables(quality, "visual")
    assert table2.splitlines()[2:] == ["| PLG | 70.0 ± 0.0 | 70.0 ± 0.0 |",
                                       "| PLG + PLD (④'s models) | 70.0 ± 0.0 | 70.0 ± 0.0 |",
                                       "| VALOR's released labels | 60.0 ± 0.0 | 60.0 ± 0.0 |",
                                       "| VALOR's released labels + PLD (④'s models) | 60.0 ± 0.0 | 60.0 ± 0.0 |"]
    assert "| VALOR's released labels | 60.0 ± 0.0 | 60.0 ± 0.0 |" in table1
    section = label_quality_section({"visual": quality}, "K = 8, α = 10")
    assert "Scored: with ④'s models 4 val videos; with ④'s models (on VALOR's released labels) 4 val videos." in section
    assert "| none (VALOR's released labels) | 60.0 ± 0.0 | 60.0 ± 0.0 |" in section
