"""vplan_core.evaluation.metrics: hand examples of docs/metric.md §5/§7 and the loop oracle on real GT."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tests.reference_metric import event_level, reference_eval, segment_level
from vplan_core.data import annotations as llp
from vplan_core.data.description import LLP
from vplan_core.evaluation import metrics
from vplan_core.data.description import LLP
CLASS_INDEX = LLP.class_index
from tests.paths import LLP_DIR

DOG, CAT = CLASS_INDEX["Dog"], CLASS_INDEX["Cat"]
KEYS = {"audio", "visual", "audio_visual", "type_at_av", "event_at_av"}


def dense(*runs: tuple[int, int, int], n: int = 1) -> np.ndarray:
    """[n, 10, 25] uint8 with (class, start, stop) runs set in every video."""
    x = np.zeros((n, 10, 25), dtype=np.uint8)
    for c, start, stop in runs:
        x[:, start:stop, c] = 1
    return x


def f_scores(gt: np.ndarray, so: np.ndarray) -> tuple[float, float]:
    return float(metrics.segment_f(gt, so)[0]), float(metrics.event_f(gt, so)[0])


# --- §7 edge cases, one modality --------------------------------------------------------

def test_no_gt_no_prediction_is_one():
    assert f_scores(dense(), dense()) == (1.0, 1.0)


def test_no_gt_some_prediction_is_zero():
    assert f_scores(dense(), dense((DOG, 3, 4))) == (0.0, 0.0)


def test_gt_nothing_predicted_is_zero():
    assert f_scores(dense((DOG, 0, 10)), dense()) == (0.0, 0.0)


def test_extra_predicted_class_adds_a_zero():
    seg, evt = f_scores(dense((DOG, 0, 4)), dense((DOG, 0, 2), (CAT, 5, 6)))
    assert seg == pytest.approx((2 / 3 + 0) / 2, abs=1e-15)
    assert evt == 0.5  # Dog: IoU 2/4 is a TP; Cat: an FP


def test_av_and_event_at_av_edge_cases():
    # Dog only audible and only audio predicted: GT_av and SO_av are empty -> 1.0.
    s = metrics.video_scores(dense((DOG, 0, 4)), dense(), dense((DOG, 0, 4)), dense())
    for key in ("seg_a", "seg_v", "seg_av", "seg_event", "evt_a", "evt_v", "evt_av", "evt_event"):
        assert s[key].tolist() == [1.0], key
    # Audio and visual GT both empty and nothing predicted -> Event@AV 1.0; a/v GT missed -> 0.
    s = metrics.video_scores(dense(), dense(), dense(), dense())
    assert s["seg_event"].tolist() == s["evt_event"].tolist() == [1.0]
    s = metrics.video_scores(dense((DOG, 0, 4)), dense((DOG, 0, 4)), dense(), dense())
    assert s["seg_av"].tolist() == s["evt_event"].tolist() == [0.0]


# --- §4/§5 hand examples --------------------------------------------------------------

def test_half_iou_is_a_match():
    seg, evt = f_scores(dense((DOG, 0, 4)), dense((DOG, 0, 2)))
    assert evt == 1.0 and seg == pytest.approx(2 / 3, abs=1e-15)
    assert f_scores(dense((DOG, 1, 4)), dense((DOG, 0, 3)))[1] == 1.0  # 2 / 4, shifted


def test_third_iou_is_no_match():
    assert f_scores(dense((DOG, 0, 3)), dense((DOG, 0, 1)))[1] == 0.0
    assert f_scores(dense((DOG, 0, 5)), dense((DOG, 0, 2)))[1] == 0.0  # 2 / 5


def test_one_long_prediction_against_two_events():
    seg, evt = f_scores(dense((DOG, 0, 3), (DOG, 5, 8)), dense((DOG, 0, 10)))
    assert evt == 0.0 and seg == 0.75  # 1 FP + 2 FN; segments 2·6 / (2·6 + 4)


def test_event_counts_mix_matches_and_misses():
    # Two predicted runs each matching its own GT run, plus a stray GT run: TP 2, FN 1.
    gt = dense((DOG, 0, 2), (DOG, 4, 6), (DOG, 8, 10))
    so = dense((DOG, 0, 1), (DOG, 4, 6))
    assert f_scores(gt, so)[1] == pytest.approx(4 / 5, abs=1e-15)


def test_perfect_class_plus_one_false_positive_cell_is_half():
    assert f_scores(dense((DOG, 2, 7)), dense((DOG, 2, 7), (CAT, 9, 10)))[0] == 0.5


def test_event_at_av_pools_counts_before_f():
    # Audio Dog found, visual Dog missed: pooled F = 2·1 / (2·1 + 1), not (1 + 0) / 2.
    s = metrics.video_scores(dense((DOG, 0, 4)), dense((DOG, 0, 4)), dense((DOG, 0, 4)), dense())
    assert s["seg_event"][0] == s["evt_event"][0] == pytest.approx(2 / 3, abs=1e-15)
    assert s["seg_a"][0] == 1.0 and s["seg_v"][0] == 0.0 and s["seg_av"][0] == 0.0


def test_av_is_the_and_of_audio_and_visual():
    # Audio Dog 0-6, visual Dog 4-10: GT_av 4-6; predictions a 1-6, v 5-10 -> SO_av 5-6.
    s = metrics.video_scores(dense((DOG, 0, 6)), dense((DOG, 4, 10)), dense((DOG, 1, 6)),
                             dense((DOG, 5, 10)))
    assert s["seg_av"][0] == pytest.approx(2 / 3, abs=1e-15)  # TP 1, FN 1
    assert s["evt_av"][0] == 1.0  # IoU 1/2


def test_summarize_layout_and_type_order():
    scores = {f"{p}_{m}": np.array([0.1, 0.7, 0.35]) * (i + 1)
              for p in ("seg", "evt") for i, m in enumerate(("a", "v", "av", "event"))}
    out = metrics.summarize(scores)
    assert set(out) == {"segment_level", "event_level"} and set(out["event_level"]) == KEYS
    a, v, av = (100 * np.mean(scores[f"seg_{m}"]) for m in ("a", "v", "av"))
    assert out["segment_level"]["type_at_av"] == (av + a + v) / 3.0
    assert out["segment_level"]["event_at_av"] == 100 * np.mean(scores["seg_event"])
    assert all(type(x) is float for level in out.values() for x in level.values())


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="binary"):
        metrics.segment_f(dense(), dense() + 2)
    with pytest.raises(ValueError, match="shape"):
        metrics.event_f(np.zeros((25, 10)), np.zeros((25, 10)))
    with pytest.raises(ValueError, match="cover different videos, segments or classes"):
        metrics.event_f(np.zeros((1, 10, 25)), np.zeros((1, 25, 10)))  # classes and segments swapped
    with pytest.raises(ValueError, match="cover different videos"):
        metrics.video_scores(dense(n=2), dense(n=2), dense(), dense())


# --- §3 binarisation -----------------------------------------------------------------

def test_threshold_is_inclusive_and_gating():
    a = np.zeros((1, 10, 25), dtype=np.float32)
    a[0, 0, DOG], a[0, 1, DOG], a[0, 0, CAT] = 0.5, np.nextafter(np.float32(0.5), 0), 0.9
    so_a, so_v = metrics.binarize(a, a)
    assert so_a.dtype == np.uint8 and so_a.shape == (1, 10, 25)
    assert so_a[0, :2, DOG].tolist() == [1, 0] and so_a[0, 0, CAT] == 1
    assert (so_a == so_v).all()
    g = np.zeros((1, 25), dtype=np.float32)
    g[0, DOG], g[0, CAT] = 0.5, 0.49
    so_a, so_v = metrics.binarize(a, a, g)
    assert so_a[0, 0, DOG] == 1 and so_a[0, 0, CAT] == 0 and so_v[0, 0, CAT] == 0
    assert metrics.binarize(a, a, threshold=0.6)[0].sum() == 1
    with pytest.raises(ValueError, match="video_prob"):
        metrics.binarize(a, a, g[:, :24])


# --- real ground truth --------------------------------------------------------------

def test_predicting_nothing_on_real_test_gt(test_split):
    empty = np.zeros_like(test_split.gt_audio)
    out = metrics.avvp_metrics(test_split.gt_audio, test_split.gt_visual, empty, empty)
    for level in out.values():
        got = {k: f"{v:.1f}" for k, v in level.items()}
        assert got == {"audio": "0.5", "visual": "10.1", "audio_visual": "14.5",
                       "type_at_av": "8.4", "event_at_av": "0.0"}


def noisy_predictions(split: llp.Split, seed: int, flip: float) -> dict[str, np.ndarray]:
    """Probabilities whose 0.5-binarisation is the GT with a fraction `flip` of cells flipped."""
    rng = np.random.default_rng(seed)
    probs = {}
    for key, gt in (("audio_prob", split.gt_audio), ("visual_prob", split.gt_visual)):
        base = gt ^ (rng.random(gt.shape) < flip)
        probs[key] = (0.5 * base + 0.5 * rng.random(gt.shape)).astype(np.float32)
    present = (split.gt_audio | split.gt_visual).any(axis=1)
    probs["video_prob"] = np.where(rng.random(present.shape) < 0.2, 1 - present, present) \
        .astype(np.float32)
    return probs


def assert_matches_oracle(out, filenames, probs):
    ref = reference_eval(filenames, LLP_DIR / "AVVP_eval_audio.csv", LLP_DIR / "AVVP_eval_visual.csv",
                         probs["audio_prob"], probs["visual_prob"], probs.get("video_prob"))
    for level in ref:
        for key in ref[level]:
            assert out[level][key] == ref[level][key], (level, key)  # bit-identical


def test_random_predictions_match_the_oracle_on_test(test_split):
    rng = np.random.default_rng(0)
    shape = test_split.gt_audio.shape
    probs = {"audio_prob": rng.random(shape, dtype=np.float32),
             "visual_prob": rng.random(shape, dtype=np.float32),
             "video_prob": rng.random((shape[0], 25), dtype=np.float32)}
    perm = rng.permutation(shape[0])  # scored in split order whatever the input order
    shuffled = {"video_ids": np.array(test_split.filenames)[perm], **{k: v[perm] for k, v in probs.items()}}
    out = metrics.evaluate_predictions(shuffled, test_split)
    assert_matches_oracle(out, test_split.filenames, probs)


def test_noisy_predictions_match_the_oracle_on_val_shuffled(val_split):
    probs = noisy_predictions(val_split, seed=1, flip=0.1)
    del probs["video_prob"]  # no gating
    perm = np.random.default_rng(1).permutation(len(val_split.filenames))
    shuffled = {"video_ids": np.array(val_split.video_ids)[perm], **{k: v[perm] for k, v in probs.items()}}
    out = metrics.evaluate_predictions(shuffled, val_split)
    assert_matches_oracle(out, val_split.filenames, probs)
    assert out["event_level"]["audio"] > 5  # uniform noise scores ~1: here events do match


@pytest.mark.parametrize("seed, flip", [(2, 0.03), (3, 0.3)])
def test_noisy_predictions_on_a_subset_match_the_oracle(test_split, seed, flip):
    probs = noisy_predictions(test_split, seed, flip)
    keep = np.sort(np.random.default_rng(seed).choice(len(test_split.filenames), 300, replace=False))
    subset = {k: v[keep] for k, v in probs.items()}
    names = [test_split.filenames[i] for i in keep]
    with pytest.warns(UserWarning, match="scoring 300 of 1200"):
        out = metrics.evaluate_predictions({"video_ids": names, **subset}, test_split, allow_missing=True)
    assert_matches_oracle(out, names, subset)


def test_dense_random_rows_match_the_oracle_per_video():
    """Random GT and predictions of varied density: many runs per row, all IoU cases."""
    rng = np.random.default_rng(4)
    n = 150
    density = rng.uniform(0.05, 0.95, size=(4, n, 1, 25))
    gt_a, gt_v, so_a, so_v = ((rng.random((n, 10, 25)) < d).astype(np.uint8) for d in density)
    ours = metrics.video_scores(gt_a, gt_v, so_a, so_v)
    for i in range(n):
        a, v = so_a[i].T, so_v[i].T
        ga, gv = gt_a[i].T.astype(float), gt_v[i].T.astype(float)
        args = (a, v, a * v, ga, gv, ga * gv)
        for level, ref in (("seg", segment_level(*args)), ("evt", event_level(*args))):
            got = [ours[f"{level}_{m}"][i] for m in ("a", "v", "event", "av")]
            assert got == list(ref), (i, level)  # bit-identical


def test_scoring_the_test_set_is_fast(test_split):
    rng = np.random.default_rng(5)
    shape = test_split.gt_audio.shape
    pred = {"video_ids": test_split.video_ids, "audio_prob": rng.random(shape, dtype=np.float32),
            "visual_prob": rng.random(shape, dtype=np.float32),
            "video_prob": rng.random((shape[0], 25), dtype=np.float32)}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        metrics.evaluate_predictions(pred, test_split)
        times.append(time.perf_counter() - start)
    assert min(times) < 0.5


# --- evaluate_predictions input handling ----------------------------------------------

@pytest.fixture
def tiny_split() -> llp.Split:
    names = ["aaaaaaaaaaa_0_10", "b-b_bbbbbbb_5_15", "ccccccccccc_0_10"]
    return llp.Split("test", names, [n[:11] for n in names], np.zeros((3, 25), np.uint8),
                     dense((DOG, 0, 4), n=3), dense((DOG, 0, 4), n=3))


def tiny_pred(ids, n=None):
    n = len(ids) if n is None else n
    p = np.zeros((n, 10, 25), np.float32)
    p[:, 0:4, DOG] = 1.0
    return {"video_ids": list(ids), "audio_prob": p, "visual_prob": p.copy()}


def test_evaluate_accepts_ids_and_filenames(tiny_split):
    perfect = metrics.evaluate_predictions(tiny_pred(tiny_split.filenames), tiny_split)
    assert all(v == 100.0 for level in perfect.values() for v in level.values())
    ids = metrics.evaluate_predictions(tiny_pred(["ccccccccccc", "b-b_bbbbbbb", "aaaaaaaaaaa"]), tiny_split)
    assert ids == perfect


def test_evaluate_missing_videos(tiny_split):
    pred = tiny_pred(["aaaaaaaaaaa"])
    with pytest.raises(ValueError, match=r"2 of 3 test videos have no prediction: b-b_bbbbbbb_5_15"):
        metrics.evaluate_predictions(pred, tiny_split)
    with pytest.warns(UserWarning, match="scoring 1 of 3"):
        out = metrics.evaluate_predictions(pred, tiny_split, allow_missing=True)
    assert out["segment_level"]["audio"] == 100.0  # the missing videos are not scored as zeros


def test_evaluate_rejects_bad_predictions(tiny_split):
    with pytest.raises(ValueError, match=r"1 prediction video id\(s\) are not in split 'test': zzz"):
        metrics.evaluate_predictions(tiny_pred([*tiny_split.filenames, "zzzzzzzzzzz_0_10"]), tiny_split)
    with pytest.raises(ValueError, match="aaaaaaaaaaa_0_1"):  # a near miss is not a match
        metrics.evaluate_predictions(tiny_pred(["aaaaaaaaaaa_0_1"]), tiny_split, allow_missing=True)
    with pytest.raises(ValueError, match="more than one prediction"):
        metrics.evaluate_predictions(tiny_pred(["aaaaaaaaaaa", "aaaaaaaaaaa_0_10"]), tiny_split,
                                     allow_missing=True)
    pred = tiny_pred(tiny_split.filenames)
    pred["visual_prob"][1, 3, 7] = np.nan
    pred["audio_prob"][2, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"non-finite .* 'b-b_bbbbbbb_5_15' and 1 more"):
        metrics.evaluate_predictions(pred, tiny_split)
    pred = tiny_pred(tiny_split.filenames)
    pred["video_prob"] = np.ones((3, 24))
    with pytest.raises(ValueError, match=r"video_prob .*\(3, 24\)"):
        metrics.evaluate_predictions(pred, tiny_split)
    with pytest.raises(ValueError, match=r"audio_prob .*\(2, 10, 25\)"):
        metrics.evaluate_predictions(tiny_pred(tiny_split.filenames, n=2), tiny_split)
    with pytest.raises(ValueError, match="lack key.*visual_prob"):
        metrics.evaluate_predictions({"video_ids": [], "audio_prob": np.zeros((0, 10, 25))}, tiny_split)
    no_gt = llp.Split("train", tiny_split.filenames, tiny_split.video_ids, tiny_split.weak_labels, None, None)
    with pytest.raises(ValueError, match="no dense ground truth"):
        metrics.evaluate_predictions(tiny_pred(tiny_split.filenames), no_gt)
