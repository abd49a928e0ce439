"""Row ① on each modality's video-level labels (LFAV's real_av_labels): its loss against the
official line (tests/official/lfav_official_loss.py), its labels from LFAV's real annotation
files, its plan (LFAV plans it, LLP does not), a short training and the resume fingerprint."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml

from tests.official.lfav_official_loss import official_stage1_loss
from tests.paths import LLP_DIR
from tests.test_training import make_features, tiny
from tests.workflow_runs import REPO
from vplan_core.data.annotations import load_split, with_lengths
from vplan_core.data.dataset import Features, SplitData, TrainingSet, ValidationSet, subset_split
from vplan_core.data.description import describe
from vplan_core.method.ablation import ROWS
from vplan_core.method.losses import LossConfig, bce, clamp_prob, compute_loss
from vplan_core.models.han import HAN
from vplan_core.paths import RunPaths
from vplan_core.plan import feature_sources, row_job
from vplan_core.training import resume
from vplan_core.training.trainer import train

ROW = "row1_modality_labels"
LFAV_ANNOTATIONS = REPO / "tests/data/lfav/LFAV_dataset"
LLP_CONFIG = yaml.safe_load((REPO / "config/llp.yaml").read_text())


def lfav_config() -> dict:
    """config/lfav.yaml on LFAV's real annotation files."""
    config = yaml.safe_load((REPO / "config/lfav.yaml").read_text())
    config["dataset"]["annotations"] = str(LFAV_ANNOTATIONS)
    return config


def han_outputs(b: int, c: int, seed: int):
    """A real HAN's outputs (p, p^a, p^v, frame_prob) on random features."""
    torch.manual_seed(seed)
    model = HAN(audio_dim=8, visual_2d_dim=12, visual_3d_dim=6, num_classes=c, d_model=16, dim_feedforward=16)
    return model(torch.randn(b, 10, 8), torch.randn(b, 80, 12), torch.randn(b, 10, 6))


def random_labels(b: int, c: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The video's labels [B, C] and each modality's [B, 2, C] (audio, visual), the video's
    their union, as LFAV's train files are."""
    g = torch.Generator().manual_seed(seed)
    modality = (torch.rand(b, 2, c, generator=g) < 0.15).float()
    return modality.amax(dim=1), modality


@pytest.mark.parametrize("seed", range(5))
def test_the_loss_is_eq_2_on_the_official_modality_terms(seed):
    """BCE(p, y) plus the official stage-1 line on HAN's p^a and p^v, to float32 rounding."""
    b, c = 6, 35
    p, pa, pv, frame = han_outputs(b, c, seed)
    y, modality = random_labels(b, c, seed)
    ours = compute_loss((p, pa, pv, frame), y, None, LossConfig("modality_labels"), None, modality)
    official = official_stage1_loss((pa.detach().clone(), pv.detach().clone(), frame), [y, modality[:, 0], modality[:, 1]])
    torch.testing.assert_close(ours - bce(clamp_prob(p), y), official, rtol=0, atol=1e-6)
    union = compute_loss((p, pa, pv, frame), y, None, LossConfig("han"))
    assert abs(ours.item() - union.item()) > 1e-3  # the modality labels differ from their union


def test_on_the_union_for_both_modalities_it_is_han_s_loss_without_smoothing():
    p, pa, pv, frame = han_outputs(4, 25, 0)
    y, _ = random_labels(4, 25, 0)
    ours = compute_loss((p, pa, pv, frame), y, None, LossConfig("modality_labels"), None, torch.stack([y, y], dim=1))
    unsmoothed = compute_loss((p, pa, pv, frame), y, None, LossConfig("han", smoothing_audio=1.0, smoothing_visual=1.0))
    torch.testing.assert_close(ours, unsmoothed)
    with pytest.raises(ValueError, match="each modality's video-level labels"):
        compute_loss((p, pa, pv, frame), y, None, LossConfig("modality_labels"))


def test_lfav_s_split_gives_each_modality_s_labels_to_the_training_set():
    """From LFAV's real train files: [N, 2, C], audio then visual, kept through the restriction
    to the videos that have features; LLP's split has none."""
    split = load_split(LFAV_ANNOTATIONS, "train", describe("lfav"))
    keep = [5, 0, 17]
    part = subset_split(split, keep)
    features = make_features(len(keep), 0)
    modality = SplitData(part, features, n_missing=0).training_set().modality_labels
    assert modality.shape == (3, 2, 35) and modality.dtype == np.uint8
    np.testing.assert_array_equal(modality[:, 0], split.weak_audio[keep])
    np.testing.assert_array_equal(modality[:, 1], split.weak_visual[keep])
    assert (modality[:, 0] != modality[:, 1]).any()  # LFAV's audio and visual labels do differ
    llp = load_split(LLP_DIR, "val")
    assert SplitData(llp, make_features(len(llp.video_ids), 0), 0).training_set().modality_labels is None
    assert describe("lfav").modality_labels and not describe("llp").modality_labels


def test_lfav_plans_the_row_beside_row_1_and_llp_does_not():
    """LFAV: the row runs, with no label inputs (the job reads the split) and the loss as its
    setting. LLP: not planned at all, not even as skipped (no setting could give it the labels);
    naming it in models.<name>.rows is a config error."""
    lfav = feature_sources(lfav_config())
    assert lfav.rows[:2] == ("row1_han", ROW) and ROW not in lfav.skipped_rows
    job = row_job(RunPaths("lfav"), lfav_config(), ROW, "0-1", "han")
    assert job.inputs == {} and job.params["labels"] == {}
    assert job.params["settings"]["loss"] == {"kind": "modality_labels"}
    assert ROWS[ROW].control == "row1_han" and ROWS[ROW].modality_labels and not ROWS["row1_han"].modality_labels

    llp = copy.deepcopy(LLP_CONFIG)
    sources = feature_sources(llp)
    assert ROW not in sources.rows and ROW not in sources.skipped_rows
    llp["models"]["mgn"]["rows"] = ["row1_han", ROW]
    with pytest.raises(ValueError, match=f"models.mgn.rows' names {ROW}, which trains on each modality's"):
        feature_sources(llp)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    modality = (rng.random((48, 2, 25)) < 0.12).astype(np.uint8)
    modality[:, 0, 0] = 1  # every video sounds class 0; some also show it
    y = modality.max(axis=1)
    gt_a = (rng.random((16, 10, 25)) < 0.05).astype(np.uint8)
    gt_v = (rng.random((16, 10, 25)) < 0.05).astype(np.uint8)
    return (TrainingSet(make_features(48, 0), y, modality_labels=modality),
            ValidationSet(make_features(16, 1), gt_a, gt_v))


def test_a_short_training_on_modality_labels_runs_and_differs_from_the_union_s(data):
    train_set, val_set = data
    quiet = {"log": lambda _: None}
    ours = train(tiny("modality_labels", seeds=(0, 1)), train_set, val_set, **quiet)
    union = train(tiny("han", seeds=(0, 1)), train_set, val_set, **quiet)
    for a, b in zip(ours, union):
        assert [h["epoch"] for h in a.history] == [1, 2]
        assert all(np.isfinite(h["train_loss"]) for h in a.history)
        assert a.history[-1]["train_loss"] != pytest.approx(b.history[-1]["train_loss"], rel=1e-3)
    # the same labels for both modalities: the union's loss without smoothing, seed for seed
    both = replace(train_set, modality_labels=np.stack([train_set.video_labels] * 2, axis=1))
    same = train(tiny("modality_labels", seeds=(0,)), both, val_set, **quiet)
    unsmoothed = train(replace(tiny(seeds=(0,)), loss=LossConfig("han", smoothing_visual=1.0)), train_set, val_set, **quiet)
    assert [h["train_loss"] for h in same[0].history] == pytest.approx(
        [h["train_loss"] for h in unsmoothed[0].history], rel=1e-5)
    with pytest.raises(ValueError, match="each modality's video-level labels, which this data set does not have"):
        train(tiny("modality_labels"), replace(train_set, modality_labels=None), val_set, **quiet)


def test_the_resume_fingerprint_holds_the_modality_labels_of_a_loss_that_reads_them(data):
    train_set, val_set = data
    flipped = replace(train_set, modality_labels=train_set.modality_labels[:, ::-1].copy())  # audio <-> visual
    for kind, changes in (("modality_labels", True), ("han", False)):
        config = tiny(kind)
        before, after = resume.fingerprint(config, train_set, val_set), resume.fingerprint(config, flipped, val_set)
        assert (before != after) == changes, kind


def lfav_split_data(split_name: str, n: int, seed: int) -> SplitData:
    """The first n videos of one of LFAV's real splits, with random features of varied lengths
    (one row a second, as LFAV's release) in place of the released ones."""
    description = describe("lfav")
    split = subset_split(load_split(LFAV_ANNOTATIONS, split_name, description), list(range(n)))
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 60, n)
    features = Features(split.video_ids, *([rng.standard_normal((t, d), dtype=np.float32) for t in lengths]
                                           for d in (16, 24, 16)))
    return SplitData(with_lengths(split, features.lengths, description), features, 0, description)


@pytest.mark.filterwarnings("ignore:LFAV segment mAP")  # 8 val videos lack most classes: their AP is NaN
def test_lfav_s_real_labels_train_the_row_on_videos_of_any_length():
    """The row's loss on LFAV's own train labels, its videos at the equal length LFAV trains on,
    selected on val by LFAV's protocol; their union's loss trains otherwise."""
    train_data, val_data = lfav_split_data("train", 24, 0), lfav_split_data("val", 8, 1)
    train_set = train_data.training_set()
    assert train_set.features.audio.shape == (24, 200, 16) and train_set.modality_labels.shape == (24, 2, 35)
    quiet = {"log": lambda _: None}
    ours = train(tiny("modality_labels", seeds=(0,)), train_set, val_data.validation_set(), **quiet)[0]
    union = train(tiny("han", seeds=(0,)), train_set, val_data.validation_set(), **quiet)[0]
    assert [h["epoch"] for h in ours.history] == [1, 2] and all(np.isfinite(h["train_loss"]) for h in ours.history)
    assert set(ours.history[-1]["val_metrics"]) >= {"segment_level", "event_level"}  # LFAV's protocol scored it
    assert [h["train_loss"] for h in ours.history] != pytest.approx([h["train_loss"] for h in union.history], rel=1e-3)
