"""vplan_core.data.llp against the real LLP annotation files (docs/metric.md §2, §7)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from vplan_core.data import annotations as llp
from vplan_core.data.description import LLP
from vplan_core.data.description import LLP
CLASS_INDEX = LLP.class_index
from tests.paths import LLP_DIR


SHA256 = {
    "AVVP_dataset_full.csv": "89f112ffc602279c87cc2b2040c4cd42eaf163a9d7e61cf4e74250a343d21e56",
    "AVVP_eval_audio.csv": "d5435664668bec6e7eafb39059d2f424ed2682f6b55395262fc3cb691b7d0778",
    "AVVP_eval_visual.csv": "e2274af694f3f27e38b840e0cd91a9d8d9ac85280f193e90828d26b22db69abe",
    "AVVP_test_pd.csv": "3f7a2b040e3b67c15d08efef25002bf8c5b2320f11049eb99ae0eb2d62f8eb9b",
    "AVVP_train.csv": "bbeb83e8af46a85075216b213d3464f92dd4ab71468c852ae454b82cc745c0a4",
    "AVVP_val_pd.csv": "1811813b54c5f43c3be0a97bd0971cfb8a93818ca7b3ab96cdc7f4ac37ef37a6",
}


def raw_rows(name: str) -> list[list[str]]:
    return [line.split("\t") for line in (LLP_DIR / name).read_text().splitlines()[1:]]


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_classes():
    assert len(LLP.classes) == LLP.num_classes == 25
    assert LLP.classes[0] == "Speech" and LLP.classes[5] == "Frying_(food)"
    assert LLP.classes[22] == "Baby_cry_infant_cry" and LLP.classes[24] == "Clapping"
    assert all(CLASS_INDEX[c] == i for i, c in enumerate(LLP.classes))


def test_files_are_the_2024_revision():
    for name, digest in SHA256.items():
        assert hashlib.sha256((LLP_DIR / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("name, rows", [("AVVP_dataset_full.csv", 11849), ("AVVP_train.csv", 10000),
                                        ("AVVP_val_pd.csv", 649), ("AVVP_test_pd.csv", 1200)])
def test_weak_label_row_counts(name, rows):
    filenames, labels = llp.read_weak_labels(LLP_DIR / name)
    assert len(filenames) == rows and labels.shape == (rows, 25) and labels.dtype == np.uint8
    assert labels.sum(axis=1).min() >= 1  # every LLP video has at least one weak label


def test_weak_labels_content(test_split):
    assert test_split.filenames[:2] == ["4YdbENYcIyE_23_33", "KSRjje7GH44_60_70"]
    assert np.flatnonzero(test_split.weak_labels[1]).tolist() == [CLASS_INDEX["Speech"],
                                                                  CLASS_INDEX["Blender"]]
    assert test_split.weak_labels.sum() == sum(len(set(r[1].split(","))) for r in raw_rows("AVVP_test_pd.csv"))
    # line 894 reads 'Clapping,Clapping': a repeated name is one label
    i = test_split.filenames.index("LcFWKgFphXI_20_30")
    assert np.flatnonzero(test_split.weak_labels[i]).tolist() == [CLASS_INDEX["Clapping"]]


def test_eval_file_row_counts():
    assert len(raw_rows("AVVP_eval_audio.csv")) == 4131
    assert len(raw_rows("AVVP_eval_visual.csv")) == 2495


@pytest.mark.parametrize("split, n, empty_a, empty_v, empty_av, empty_both", [
    ("test", 1200, 6, 121, 174, 0), ("val", 649, 4, 70, 93, None)])
def test_empty_ground_truth_counts(split, n, empty_a, empty_v, empty_av, empty_both):
    s = llp.load_split(LLP_DIR, split)
    assert s.gt_audio.shape == s.gt_visual.shape == (n, 10, 25)
    assert s.gt_audio.dtype == s.gt_visual.dtype == np.uint8
    has_a, has_v = s.gt_audio.any(axis=(1, 2)), s.gt_visual.any(axis=(1, 2))
    assert (~has_a).sum() == empty_a
    assert (~has_v).sum() == empty_v
    assert (~(s.gt_audio & s.gt_visual).any(axis=(1, 2))).sum() == empty_av
    if empty_both is not None:
        assert (~has_a & ~has_v).sum() == empty_both


def test_train_has_no_dense_ground_truth():
    s = llp.load_split(LLP_DIR, "train")
    assert s.gt_audio is None and s.gt_visual is None and len(s.filenames) == 10000


def test_offset_not_after_onset_marks_nothing(tmp_path, test_split, val_split):
    rows = [r for r in raw_rows("AVVP_eval_audio.csv") if int(r[2]) <= int(r[1])]
    assert [(int(r[1]), int(r[2])) for r in rows] == [(9, 9), (9, 9), (10, 10), (0, 0), (1, 1), (9, 0)]
    only = write(tmp_path, "a.csv", ["filename\tonset\toffset\tevent_labels"] + ["\t".join(r) for r in rows])
    assert not llp.read_dense_labels([r[0] for r in rows], only).any()
    # In the real GT: these classes have no other rows, except Dog (3-6 and 9-10), so
    # segment 1 of Dog stays 0, and H5WcJwyjxIg_2_12 is left with no audio event at all.
    gt = {f: g for s in (test_split, val_split) for f, g in zip(s.filenames, s.gt_audio)}
    assert not gt["CaC2xvdLC34_250_260"][:, CLASS_INDEX["Speech"]].any()
    assert not gt["Gg3pK71kApY_30_40"][:, CLASS_INDEX["Speech"]].any()
    assert not gt["H5WcJwyjxIg_2_12"].any()
    assert gt["Baue01N86wE_10_20"][:, CLASS_INDEX["Dog"]].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 1]
    assert not gt["8DF2PxdT5tE_390_400"][:, CLASS_INDEX["Cheering"]].any()


def test_malformed_filenames_are_ignored(test_split, val_split):
    known = set(test_split.filenames) | set(val_split.filenames)
    bad_a = [r for r in raw_rows("AVVP_eval_audio.csv") if r[0] not in known]
    bad_v = [r for r in raw_rows("AVVP_eval_visual.csv") if r[0] not in known]
    assert (len(bad_a), len(bad_v)) == (14, 11)
    assert len({r[0] for r in bad_a + bad_v}) == 8
    # '19jWnmYnlD8_30_400' (Clapping) shares its id with the val video '19jWnmYnlD8_30_40'
    # (Violin_fiddle only): matching is by exact filename, never by id or prefix.
    i = val_split.filenames.index("19jWnmYnlD8_30_40")
    for gt in (val_split.gt_audio[i], val_split.gt_visual[i]):
        assert np.flatnonzero(gt.any(axis=0)).tolist() == [CLASS_INDEX["Violin_fiddle"]]
    # The same rows do count for a video that really has that filename.
    dense = llp.read_dense_labels(["19jWnmYnlD8_30_400"], LLP_DIR / "AVVP_eval_audio.csv")
    assert dense[0, :, CLASS_INDEX["Clapping"]].all()


def test_touching_intervals_merge(tmp_path, test_split):
    i = test_split.filenames.index("McfGMq5A5G8_30_40")  # Singing 0-2, 2-6, 6-10
    assert test_split.gt_audio[i, :, CLASS_INDEX["Singing"]].all()
    path = write(tmp_path, "a.csv", ["filename\tonset\toffset\tevent_labels",
                                     "x" * 11 + "_0_10\t0\t3\tDog", "x" * 11 + "_0_10\t2\t5\tDog",
                                     "x" * 11 + "_0_10\t7\t9\tDog", "y" * 11 + "_0_10\t0\t1\tDog"])
    dense = llp.read_dense_labels(["x" * 11 + "_0_10", "z" * 11 + "_0_10"], path)
    assert dense[0, :, CLASS_INDEX["Dog"]].tolist() == [1, 1, 1, 1, 1, 0, 0, 1, 1, 0]
    assert dense[0].sum() == 7 and not dense[1].any()


def test_video_ids(test_split, val_split):
    assert LLP.video_id("GN3k_CvthEg_80_90") == "GN3k_CvthEg"
    assert LLP.video_id("4O9rI-FpqLg_10_20") == "4O9rI-FpqLg"
    assert LLP.video_id("1-VMTJRpjbE_150_160") == "1-VMTJRpjbE"
    with pytest.raises(ValueError, match="CSWQ_HzQ"):
        LLP.video_id("CSWQ_HzQ")
    for s in (test_split, val_split):
        assert s.video_ids == [f[:11] for f in s.filenames]
        assert len(set(s.video_ids)) == len(s.video_ids)
    assert any("_" in v for v in test_split.video_ids) and any("-" in v for v in test_split.video_ids)


def test_unknown_class_names_file_and_line(tmp_path):
    weak = write(tmp_path, "weak.csv", ["filename\tevent_labels", "a" * 11 + "_0_10\tSpeech",
                                        "b" * 11 + "_0_10\tDog,Unicorn"])
    with pytest.raises(ValueError, match=r"weak\.csv: line 3: unknown class 'Unicorn'"):
        llp.read_weak_labels(weak)
    dense = write(tmp_path, "dense.csv", ["filename\tonset\toffset\tevent_labels",
                                          "a" * 11 + "_0_10\t0\t1\tSpeech", "a" * 11 + "_0_10\t0\t1\tspeech"])
    with pytest.raises(ValueError, match=r"dense\.csv: line 3: unknown class 'speech'"):
        llp.read_dense_labels(["a" * 11 + "_0_10"], dense)


def test_duplicate_and_malformed_rows(tmp_path):
    dup = write(tmp_path, "dup.csv", ["filename\tevent_labels", "a" * 11 + "_0_10\tSpeech",
                                      "a" * 11 + "_0_10\tDog"])
    with pytest.raises(ValueError, match=r"dup\.csv: line 3: duplicate filename 'a{11}_0_10'"):
        llp.read_weak_labels(dup)
    header = write(tmp_path, "header.csv", ["name\tlabels", "a" * 11 + "_0_10\tSpeech"])
    with pytest.raises(ValueError, match=r"header\.csv: line 1"):
        llp.read_weak_labels(header)
    fields = write(tmp_path, "fields.csv", ["filename\tonset\toffset\tevent_labels", "a" * 11 + "_0_10\t0\tDog"])
    with pytest.raises(ValueError, match=r"fields\.csv: line 2"):
        llp.read_dense_labels([], fields)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "AVVP_test_pd.csv")):
        llp.load_split(tmp_path, "test")
    (tmp_path / "AVVP_test_pd.csv").write_bytes((LLP_DIR / "AVVP_test_pd.csv").read_bytes())
    assert llp.load_split(tmp_path, "test").gt_audio is None  # no eval files: weak labels only
    (tmp_path / "AVVP_eval_audio.csv").write_bytes((LLP_DIR / "AVVP_eval_audio.csv").read_bytes())
    with pytest.raises(FileNotFoundError, match="AVVP_eval_visual.csv"):
        llp.load_split(tmp_path, "test")
    with pytest.raises(ValueError, match="unknown split"):
        llp.load_split(LLP_DIR, "dev")


def write_llp(folder: Path, splits: dict[str, list[str]], audio: list[str], visual: list[str]) -> Path:
    """A small annotation folder in the LLP format: split files of `splits` (filenames, all
    Speech), and the dense rows "filename\\tonset\\toffset\\tclass" given."""
    folder.mkdir()
    for split, names in splits.items():
        write(folder, LLP.splits[split].weak, ["filename\tevent_labels"] + [f"{n}\tSpeech" for n in names])
    write(folder, LLP.splits["test"].dense_audio, ["filename\tonset\toffset\tevent_labels"] + audio)
    write(folder, LLP.splits["test"].dense_visual, ["filename\tonset\toffset\tevent_labels"] + visual)
    return folder


def test_a_video_in_two_splits_is_an_error_naming_the_videos_and_files(tmp_path):
    from vplan_core.data.shards import all_video_ids

    splits = {"train": ["a" * 11 + "_0_10", "b" * 11 + "_0_10"], "val": ["c" * 11 + "_0_10"],
              "test": ["b" * 11 + "_30_40", "d" * 11 + "_0_10"]}
    folder = write_llp(tmp_path / "annotations", splits, [], [])
    with pytest.raises(ValueError, match=r"annotations: 1 video\(s\) listed twice: "
                                         r"b{11} in AVVP_train\.csv and AVVP_test_pd\.csv"):
        all_video_ids(folder)
    splits["test"] = splits["test"][1:]
    assert all_video_ids(write_llp(tmp_path / "fixed", splits, [], [])) == ["a" * 11, "b" * 11, "c" * 11, "d" * 11]


def test_eval_rows_that_mark_nothing_are_counted_and_named(tmp_path):
    """A row naming no video of val or test (a wrong folder: all-zero ground truth) and a row
    with onset after offset: an error by default, a warning with dataset.stray_eval_rows: warn."""
    val, test = "v" * 11 + "_0_10", "t" * 11 + "_0_10"
    folder = write_llp(tmp_path / "annotations", {"train": ["a" * 11 + "_0_10"], "val": [val], "test": [test]},
                       [f"{val}\t0\t3\tSpeech", f"{'x' * 11}_0_10\t0\t10\tSpeech"],
                       [f"{test}\t0\t10\tSpeech", f"{test}\t7\t2\tSpeech"])
    named = [f"{folder / LLP.splits['test'].dense_audio}: line 3: 'xxxxxxxxxxx_0_10' is no video of val or test",
             f"{folder / LLP.splits['test'].dense_visual}: line 3: '{test}' has onset 7 after offset 2"]
    with pytest.raises(ValueError) as error:
        llp.check_eval_rows(folder)
    assert str(error.value).startswith("2 dense evaluation rows mark nothing the evaluation scores:")
    assert all(line in str(error.value) for line in named) and "stray_eval_rows: warn" in str(error.value)
    [warning] = llp.check_eval_rows(folder, "warn")
    assert warning.startswith("warning: 2 dense evaluation rows") and all(line in warning for line in named)
    assert llp.load_split(folder, "test").gt_visual[0, :, CLASS_INDEX["Speech"]].all()  # read as the reference does


def test_the_llp_release_runs_with_its_stray_rows_logged():
    """The release itself has 25 rows naming no video (8 malformed filenames) and one with onset
    after offset: the LLP configuration says warn, so they are logged and the run goes on."""
    import yaml

    from tests.paths import REPO

    with pytest.raises(ValueError, match="^26 dense evaluation rows"):
        llp.check_eval_rows(LLP_DIR)
    [warning] = llp.check_eval_rows(LLP_DIR, "warn")
    assert "AVVP_eval_audio.csv: line " in warning and "'8DF2PxdT5tE_390_400' has onset 9 after offset 0" in warning
    assert yaml.safe_load((REPO / "config/llp.yaml").read_text())["dataset"]["stray_eval_rows"] == "warn"
