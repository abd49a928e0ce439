"""Equal-length training samples against LFAV's ToEqualLengthSample (tests/official/lfav_equal_length.py)."""
import numpy as np
import pytest
import torch

from tests.official.lfav_equal_length import ToEqualLengthSample
from vplan_core.data.equal_length import equal_length_sample, equal_length_stack


@pytest.mark.parametrize("rows", [1, 2, 7, 199, 200, 201, 399, 400, 401, 1058])
def test_equals_the_official_transform(rows):
    x = np.random.default_rng(rows).normal(size=(rows, 16)).astype(np.float32)
    official = ToEqualLengthSample(200)(torch.from_numpy(x)).numpy()
    ours = equal_length_sample(x, 200)
    assert ours.shape == official.shape == (200, 16)
    np.testing.assert_array_equal(ours, official)


def test_strides_down_and_interpolates_up():
    x = np.arange(1058, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(equal_length_sample(x, 200)[:, 0], np.arange(0, 1000, 5))  # stride 1058 // 200
    up = equal_length_sample(np.array([[0.0], [10.0]], np.float32), 4)[:, 0]
    np.testing.assert_allclose(up, [0.0, 2.5, 7.5, 10.0])  # align_corners False: not 0, 3.3, 6.7, 10


def test_stack_and_refusals():
    videos = [np.ones((5, 3), np.float32), np.ones((300, 3), np.float32)]
    assert equal_length_stack(videos, 200).shape == (2, 200, 3)
    with pytest.raises(ValueError, match="T >= 1"):
        equal_length_sample(np.zeros((0, 3)), 200)
