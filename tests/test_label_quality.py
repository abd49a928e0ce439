"""vplan_core.evaluation.label_quality on hand-made labels with known precision, recall and F."""
from __future__ import annotations

import numpy as np
import pytest

from vplan_core.evaluation.label_quality import pld_parameter_study, segment_event_f, study_key, \
    video_level_precision_recall
from vplan_core.data.annotations import Split
from vplan_core.data.description import LLP
CLASS_INDEX = LLP.class_index
from vplan_core.method.pld import denoise, forward_loss_matrix

DOG, CAT, CAR = CLASS_INDEX["Dog"], CLASS_INDEX["Cat"], CLASS_INDEX["Car"]


def gt_visual() -> np.ndarray:
    """Video 0 shows Dog 0-4 and Cat 6-8; video 1 shows Car 0-10; video 2 shows nothing."""
    gt = np.zeros((3, 10, 25), dtype=np.uint8)
    gt[0, 0:4, DOG] = 1
    gt[0, 6:8, CAT] = 1
    gt[1, :, CAR] = 1
    return gt


def test_video_level_precision_recall_is_micro():
    labels = np.zeros((3, 25), dtype=np.uint8)
    labels[0, [DOG, CAR]] = 1  # 1 TP, 1 FP, Cat missed
    labels[1, CAR] = 1  # 1 TP
    labels[2, DOG] = 1  # 1 FP
    out = video_level_precision_recall(labels, gt_visual())
    # micro: TP 2 of 4 predicted, 2 of 3 visible pairs (a per-video macro mean would differ)
    assert out == {"precision": 50.0, "recall": pytest.approx(200 / 3, abs=1e-12)}


def test_video_level_zero_denominators():
    out = video_level_precision_recall(np.zeros((3, 25), np.uint8), gt_visual())
    assert out == {"precision": 0.0, "recall": 0.0}
    labels = np.ones((3, 25), np.uint8)
    assert video_level_precision_recall(labels, np.zeros((3, 10, 25), np.uint8)) == \
        {"precision": 0.0, "recall": 0.0}


def test_video_level_shape_checks():
    with pytest.raises(ValueError, match="video_labels"):
        video_level_precision_recall(np.zeros((2, 25), np.uint8), gt_visual())
    with pytest.raises(ValueError, match="binary"):
        video_level_precision_recall(np.full((3, 25), 0.7), gt_visual())


def test_segment_event_f():
    labels = np.zeros((3, 10, 25), dtype=np.uint8)
    labels[0, 0:2, DOG] = 1  # Dog: seg 2·2/(4+2) = 2/3, event IoU 1/2 -> 1; Cat missed -> 0, 0
    labels[1, 0:3, CAR] = 1  # Car: seg 2·3/(6+7) = 6/13, event IoU 3/10 -> 0
    # video 2: nothing shown, nothing labelled -> 1.0 at both levels
    out = segment_event_f(labels, gt_visual())
    assert out["segment_f"] == pytest.approx(100 * ((2 / 3 + 0) / 2 + 6 / 13 + 1) / 3, abs=1e-12)
    assert out["event_f"] == pytest.approx(100 * ((1 + 0) / 2 + 0 + 1) / 3, abs=1e-12)


def test_segment_event_f_false_positive_in_empty_video():
    labels = gt_visual()
    labels[2, 5, CAT] = 1  # a false positive in an empty video scores 0 there
    out = segment_event_f(labels, gt_visual())
    assert out == {"segment_f": pytest.approx(200 / 3, abs=1e-12), "event_f": pytest.approx(200 / 3, abs=1e-12)}


def test_pld_parameter_study_scores_each_setting_as_denoise_does():
    """Video 0's PLG labels Dog in 0-4 (GT 0-3): the stage-1 model is sure of segments 0-2
    (P 0.99), less sure that 5-9 show no Dog (P 0.18), unsure of 3 (P 0.37, a true Dog), and
    segment 4 is a wrong label (P 0.05). K = 5 takes its threshold mostly from the sure
    segments (10 x 0.085) and also removes the true segment 3 (loss 0.99); K = 8 averages more
    of the less sure ones (10 x 0.128) and removes only the wrong segment 4."""
    gt = gt_visual()
    plg = np.zeros_like(gt)
    plg[0, 0:5, DOG] = 1
    plg[1, :, CAR] = 1
    prob = np.full(gt.shape, 0.01)
    prob[0, 0:3, DOG], prob[0, 3, DOG], prob[0, 4, DOG], prob[0, 5:, DOG] = 0.99, 0.37, 0.05, 0.18
    prob[1, :, CAR] = 0.9
    split = Split(name="val", filenames=["a", "b", "c"], video_ids=["a", "b", "c"],
                  weak_labels=np.zeros((3, 25), np.uint8), gt_audio=gt, gt_visual=gt)
    loss = forward_loss_matrix(prob, plg)
    study = pld_parameter_study(split, plg, loss, ks=[5, 8], alphas=[10.0])
    assert list(study) == [study_key(5, 10.0), study_key(8, 10.0)] == ["K = 5, α = 10", "K = 8, α = 10"]
    for k in (5, 8):
        assert study[study_key(k, 10.0)] == segment_event_f(denoise(loss, plg, k=k, alpha=10.0), gt)
    k5, k8 = denoise(loss, plg, k=5, alpha=10.0), denoise(loss, plg, k=8, alpha=10.0)
    assert k5[0, :, DOG].tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert k8[0, :, DOG].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0] == gt[0, :, DOG].tolist()
    assert study[study_key(8, 10.0)]["segment_f"] > segment_event_f(plg, gt)["segment_f"] > \
        study[study_key(5, 10.0)]["segment_f"]
