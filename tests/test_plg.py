"""PLG (Eq. 3-4) on hand-made embeddings."""
import math

import numpy as np
import pytest

from vplan_core.method.plg import (
    PROMPTS, prompt_texts, pseudo_labels, readable_class_name, segment_scores, video_pseudo_labels,
)


def test_readable_class_names():
    assert readable_class_name("Frying_(food)") == "frying (food)"
    assert readable_class_name("Baby_cry_infant_cry") == "baby cry infant cry"
    assert readable_class_name("Speech") == "speech"


def test_prompt_texts():
    classes = ["Speech", "Frying_(food)"]
    assert prompt_texts("P1", classes) == ["This photo contains the speech",
                                           "This photo contains the frying (food)"]
    assert prompt_texts("P4", classes)[1] == "This is a photo of the frying (food)"
    assert prompt_texts("P3", classes)[0] == "This photo contains the visual scene of speech"
    assert prompt_texts("A photo of a [CLS].", classes)[0] == "A photo of a speech."
    assert set(PROMPTS) == {"P1", "P2", "P3", "P4"}
    with pytest.raises(ValueError):
        prompt_texts("no placeholder", classes)


def test_segment_scores_raw_cosine_softmax():
    text = np.array([[1.0, 0.0], [0.0, 3.0], [-2.0, 0.0]])  # unnormalised on purpose
    image = np.array([[[5.0, 0.0], [1.0, 1.0]]])  # [N=1, T=2, D=2]
    s = segment_scores(image, text)
    assert s.shape == (1, 2, 3) and s.dtype == np.float32
    # segment 0: cosines (1, 0, -1); segment 1: (1/√2, 1/√2, -1/√2)
    for t, cos in enumerate([(1.0, 0.0, -1.0), (2 ** -0.5, 2 ** -0.5, -(2 ** -0.5))]):
        z = sum(math.exp(c) for c in cos)
        np.testing.assert_allclose(s[0, t], [math.exp(c) / z for c in cos], rtol=1e-6)
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-6)


def test_pseudo_labels_threshold_and_mask():
    scores = np.array([[[0.05, 0.04, 0.5], [0.039, 0.9, 0.041]]], dtype=np.float32)
    y = np.array([[1, 1, 0]], dtype=np.uint8)
    seg = pseudo_labels(scores, y, tau=0.04)
    assert seg.dtype == np.uint8
    # strict >: 0.04 is not above τ; class 2 is not in the video label
    np.testing.assert_array_equal(seg, [[[1, 0, 0], [0, 1, 0]]])
    np.testing.assert_array_equal(video_pseudo_labels(seg), [[1, 1, 0]])
    assert video_pseudo_labels(seg).dtype == np.uint8


def test_end_to_end_tau_near_one_over_c():
    rng = np.random.default_rng(0)
    c, d = 25, 16
    text = rng.normal(size=(c, d))
    # each segment's image equals one class's text embedding: that class gets the top score
    idx = rng.integers(0, c, size=(3, 10))
    image = text[idx] * 2.0
    s = segment_scores(image, text)
    assert np.all(s.argmax(-1) == idx)
    y = np.ones((3, c), dtype=np.uint8)
    seg = pseudo_labels(s, y, tau=1.0 / c)
    assert np.all(seg[np.arange(3)[:, None], np.arange(10)[None, :], idx] == 1)
