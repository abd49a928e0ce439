"""PLG rows on videos of any length (LFAV): released CLIP features of one row a second imported
into a ragged store, PLG a video at a time, its labels saved padded with their lengths, brought
to the training samples' length by the features' own row map, and scored at full length."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from tests.lfav_release import LFAV
from tests.paths import REPO
from vplan_core.data.annotations import Split
from vplan_core.data.dataset import Features, SplitData, label_lengths, load_labels, pad_videos, save_labels
from vplan_core.data.equal_length import equal_length_labels, equal_length_sample, source_rows
from vplan_core.data.manifest import make_record
from vplan_core.data.official import OfficialFeatureError, import_segment_shard, segment_feature_width
from vplan_core.evaluation.label_quality import label_quality
from vplan_core.feature_store import load_features, read_store
from vplan_core.method.ablation import ROWS
from vplan_core.method.plg import label_segments, label_videos
from vplan_core.plan import feature_sources

LENGTHS = (1, 3, 7, 199, 200, 201, 399, 400, 401, 650)


@pytest.mark.parametrize("rows", LENGTHS)
def test_a_label_follows_its_feature_row(rows):
    """Row i's feature is i: the equal-length sample's feature at each position is its source
    row when strided, and within half a row of it when interpolated (the nearest row)."""
    sample = equal_length_sample(np.arange(rows, dtype=np.float32)[:, None], 200)[:, 0]
    source = source_rows(rows, 200)
    assert source.shape == (200,) and source.min() >= 0 and source.max() < rows
    if rows >= 200:
        np.testing.assert_array_equal(sample, source)  # the strided rows themselves
        np.testing.assert_array_equal(source, np.arange(rows)[::rows // 200][:200])
    else:
        assert np.all(np.abs(sample - source) <= 0.5 + 1e-5)
    labels = np.zeros((1, rows + 5, 4), np.uint8)  # padded past the video's end
    labels[0, np.arange(rows), np.arange(rows) % 4] = 1
    equal = equal_length_labels(labels, np.array([rows]), 200)
    np.testing.assert_array_equal(equal[0].argmax(axis=1), source % 4)
    assert equal.dtype == np.uint8 and set(np.unique(equal)) <= {0, 1}


def test_training_set_brings_labels_to_the_rows_of_their_features():
    rng = np.random.default_rng(0)
    lengths = (5, 12, 31)
    features = Features(["a", "b", "c"], *([np.arange(t, dtype=np.float32)[:, None] + 1000 * i
                                            for i, t in enumerate(lengths)] for _ in range(3)))
    padded, _ = pad_videos([rng.integers(0, 2, (t, 3)).astype(np.uint8) for t in lengths], 3)
    split = Split("train", ["a", "b", "c"], ["a", "b", "c"], np.ones((3, 3), np.float32), None, None)
    data = SplitData(split, features, 0, LFAV)
    per_seed = np.stack([padded, 1 - padded])
    shared, seeds = data.training_set(padded).segment_labels, data.training_set(per_seed).segment_labels
    samples = data.training_set().features.visual_3d[..., 0]
    assert shared.shape == (3, 200, 3) and seeds.shape == (2, 3, 200, 3)
    for i, t in enumerate(lengths):
        nearest = np.rint(samples[i] - 1000 * i).astype(int)  # the row each position's feature is nearest to
        np.testing.assert_array_equal(shared[i], padded[i, nearest])
        np.testing.assert_array_equal(seeds[1, i], 1 - padded[i, nearest])


def test_ragged_labels_npz_keeps_lengths_and_checks_them(tmp_path):
    labels = [np.ones((t, 2), np.uint8) for t in (4, 2, 6)]
    padded, lengths = pad_videos(labels, 2)
    save_labels(tmp_path / "l.npz", ["a", "b", "c"], padded, lengths)
    loaded = load_labels(tmp_path / "l.npz", ["b", "a"], np.array([2, 4]))
    assert loaded.shape == (2, 4, 2) and loaded[0, 2:].sum() == 0 and loaded[1].sum() == 8
    np.testing.assert_array_equal(label_lengths(tmp_path / "l.npz", ["c"]), [6])
    with pytest.raises(ValueError, match=r"l.npz: labels of 1 videos have other lengths.*\('a', 4, 5\)"):
        load_labels(tmp_path / "l.npz", ["a"], np.array([5]))
    save_labels(tmp_path / "fixed.npz", ["a"], np.ones((1, 10, 2)))  # a fixed-length file: as before
    with np.load(tmp_path / "fixed.npz") as data:
        assert sorted(data.files) == ["segment_labels", "video_ids", "video_labels"]
    assert label_lengths(tmp_path / "fixed.npz", ["a"]) is None


@pytest.mark.parametrize("rule", ["softmax", "thresholds"])
def test_plg_of_each_video_alone_equals_the_batch(rule):
    rng = np.random.default_rng(1)
    segments, weak = rng.standard_normal((4, 9, 16)), rng.integers(0, 2, (4, 5))
    text = {"embeddings": rng.standard_normal((5, 16)), "logit_scale": np.float32(100.0)}
    settings = {"rule": rule, "tau": 0.2, "thresholds": [5.0] * 5}
    batch = label_segments(segments, text, weak, **settings)
    alone = label_videos(list(segments), text, weak, **settings)
    assert 0 < batch.sum() < batch.size
    np.testing.assert_array_equal(np.stack(alone), batch)
    cut = label_videos([segments[0, :3], segments[1]], text, weak[:2], **settings)
    np.testing.assert_array_equal(cut[0], batch[0, :3])


def test_released_clip_features_of_any_length_import_ragged(tmp_path):
    folder = tmp_path / "CLIP"
    folder.mkdir()
    rows = {"aaaaaaaaaaa": 7, "bbbbbbbbbbb": 3, "ccccccccccc": 5}
    for vid, t in rows.items():
        np.save(folder / f"{vid}.npy", np.full((t, 8), len(vid), np.float32))
    records = [make_record(vid, "", "used", duration_s=float(t), has_audio=1) for vid, t in rows.items()]
    records[2] = make_record("ccccccccccc", "", "used", duration_s=6.0, has_audio=1)  # its audio has 6 rows
    records.append(make_record("ddddddddddd", "", "used", duration_s=4.0, has_audio=1))  # no CLIP file
    summary = import_segment_shard("clip", records, folder, tmp_path / "clip.zarr", "ViT-B-32", {}, "CLIP",
                                   description=LFAV)
    assert summary["n_written"] == 2 and summary["shape"] == [None, 8]
    assert summary["skipped"] == [["ccccccccccc", "rows differ: CLIP 5, audio-feat-vggish-align 6"],
                                  ["ddddddddddd", f"no CLIP feature file: {folder / 'ddddddddddd.npy'}"]]
    stored = load_features([str(tmp_path / "clip.zarr")], ["bbbbbbbbbbb", "aaaaaaaaaaa"])
    assert [x.shape for x in stored] == [(3, 8), (7, 8)]
    assert read_store(tmp_path / "clip.zarr")[2]["skipped"] == summary["skipped"]
    np.save(folder / "eeeeeeeeeee.npy", np.zeros((4, 8, 2), np.float32))
    with pytest.raises(OfficialFeatureError, match="eeeeeeeeeee.npy: shape .*CLIP segment features are"):
        segment_feature_width(folder / "eeeeeeeeeee.npy", segments=None)
    with pytest.raises(OfficialFeatureError, match=r"are \[10, D\]"):  # LLP's stay [10, D]
        segment_feature_width(folder / "aaaaaaaaaaa.npy")


def test_label_quality_at_full_length_ignores_the_padding():
    """Each video scored padded among longer ones equals it scored alone at its own length."""
    rng = np.random.default_rng(2)
    lengths = (4, 9, 15)
    labels = [rng.integers(0, 2, (t, 3)).astype(np.uint8) for t in lengths]
    truth = [rng.integers(0, 2, (t, 3)).astype(np.uint8) for t in lengths]
    weak = np.ones((3, 3), np.float32)

    def split(gt, ids, w):
        return Split("val", ids, ids, w, gt, gt)
    padded = label_quality(split(pad_videos(truth, 3)[0], list("abc"), weak), {"plg": pad_videos(labels, 3)[0]})
    alone = [label_quality(split(truth[i][None], [v], weak[i:i + 1]), {"plg": labels[i][None]})
             for i, v in enumerate("abc")]
    for key in ("segment_f", "event_f"):
        assert padded["segment_event"]["plg"][key] == pytest.approx(
            np.mean([a["segment_event"]["plg"][key] for a in alone]), abs=1e-9)


def lfav(**dataset) -> dict:
    config = yaml.safe_load((REPO / "config/lfav.yaml").read_text())
    config["dataset"].update(dataset)
    return config


def test_plg_rows_run_for_lfav_with_released_clip_features_only():
    without = feature_sources(lfav(), ROWS)
    assert without.rows == ("row1_han", "row1_modality_labels")
    for row in ("row2_plg", "row3_plg_segbce", "row4_plg_rl"):
        assert without.skipped_rows[row] == "needs CLIP pseudo labels (PLG): set dataset.clip_features"
    with_clip = feature_sources(lfav(clip_features="c"), ROWS)
    assert with_clip.rows == ("row1_han", "row1_modality_labels", "row2_plg", "row3_plg_segbce", "row4_plg_rl")
    assert with_clip.imported["clip"] == "dataset.clip_features"
    assert "PLD, which is not made for videos of any length" in with_clip.skipped_rows["row5_vplan"]
    config = lfav(clip_features="c", clap_features="a")
    config["features"]["clap"], config["plg"]["clap"] = {"checkpoint": "w"}, {"enabled": True}
    skipped = feature_sources(config, ROWS).skipped_rows
    assert "CLAP segment labels, which are not made for videos of any length" in skipped["row6_plg_av"]
