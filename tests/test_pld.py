"""PLD (Eq. 10-11) on hand-made loss matrices."""
import math

import numpy as np
import pytest

from vplan_core.method.pld import denoise, forward_loss_matrix

T, C = 10, 4


def example():
    """Video 0: class 0 labelled in t0-7 (low loss) but t8-9 have a high loss, like the paper's
    rooster; class 1 labelled only in t0, whose loss 0.6 exceeds 10 × 0.05; class 2 is outside
    ŷ^v but carries large losses; class 3 is labelled everywhere with flat losses.
    Video 1 has no visual pseudo label at all (large losses everywhere)."""
    labels = np.zeros((2, T, C), dtype=np.uint8)
    labels[0, :8, 0] = 1
    labels[0, 0, 1] = 1
    labels[0, :, 3] = 1
    loss = np.zeros((2, T, C))
    loss[0, :, 0] = [0.1] * 8 + [5.0, 5.0]
    loss[0, :, 1] = [0.6] + [0.05] * 9
    loss[0, :, 2] = [0.01] * 5 + [3.0] * 5
    loss[0, :, 3] = 0.3
    loss[1] = 7.0
    return loss, labels


def test_flips_by_hand():
    loss, labels = example()
    out = denoise(loss, labels, k=5, alpha=10.0)
    assert out.dtype == np.uint8
    expected = labels.copy()
    expected[0, 8:, 0] = 1  # θ = 10 · 0.1 = 1 < 5: the two high-loss zeros become ones
    expected[0, 0, 1] = 0   # θ = 10 · 0.05 = 0.5 < 0.6: the lone one is removed
    # class 2: outside ŷ^v, untouched; class 3: θ = 3 > 0.3, untouched
    np.testing.assert_array_equal(out, expected)


def test_video_without_visual_labels_unchanged():
    loss, labels = example()
    out = denoise(loss, labels)
    assert not out[1].any()


def test_classes_outside_video_label_never_flipped():
    loss, labels = example()
    out = denoise(loss, labels, k=1, alpha=0.0)  # θ = 0: every positive masked loss flips
    assert not out[:, :, 2].any()
    assert not out[1].any()
    np.testing.assert_array_equal(out[0, :, 3], 0)  # all ones flipped to zero
    np.testing.assert_array_equal(out[0, :, 0], 1 - labels[0, :, 0])


def test_k_larger_than_t_is_clipped():
    loss, labels = example()
    # K = 20 -> mean over all 10: class 0 mean = (8·0.1 + 10) / 10 = 1.08
    out = denoise(loss, labels, k=20, alpha=1.0)
    np.testing.assert_array_equal(out[0, :, 0], 1)  # 5 > 1.08 flips, 0.1 does not
    assert not out[0, :, 1].any()  # class 1: θ = (0.6 + 9 · 0.05) / 10 = 0.105 < 0.6 flips t0
    # with α = 10 every θ (10.8, 1.05, 3.0) is above all losses of its class: nothing flips
    np.testing.assert_array_equal(denoise(loss, labels, k=20, alpha=10.0), labels)


def test_wrong_formulas_would_fail():
    loss, labels = example()
    out = denoise(loss, labels)
    # α on the max instead of the K smallest: θ = 50 for class 0 -> no flip there
    assert out[0, 8, 0] == 1
    # no Eq. 10 mask: class 2's large losses would exceed θ = 0.1
    assert out[0, 5, 2] == 0


def test_forward_loss_matrix():
    p = np.array([[[0.9, 0.2], [0.0, 1.0]]], dtype=np.float32)
    y = np.array([[[1, 0], [1, 0]]], dtype=np.uint8)
    m = forward_loss_matrix(p, y)
    assert m.shape == (1, 2, 2)
    np.testing.assert_allclose(m[0, 0], [-math.log(0.9), -math.log(0.8)], rtol=1e-6)
    np.testing.assert_allclose(m[0, 1], [-math.log(1e-7), -math.log(1e-7)], rtol=1e-6)


def test_invalid_k():
    loss, labels = example()
    with pytest.raises(ValueError):
        denoise(loss, labels, k=0)


def test_denoise_over_a_seed_axis_equals_each_seed_alone():
    """PLD of a seed batch: [S, N, T, C] forward losses against one [N, T, C] PLG label set."""
    rng = np.random.default_rng(3)
    labels = (rng.random((6, 10, 25)) < 0.3).astype(np.uint8)
    probs = rng.random((3, 6, 10, 25))
    batched = denoise(forward_loss_matrix(probs, labels), labels, k=3, alpha=2.0)
    assert batched.shape == (3, 6, 10, 25)
    for s in range(3):
        np.testing.assert_array_equal(batched[s], denoise(forward_loss_matrix(probs[s], labels), labels, k=3, alpha=2.0))
