"""Resident features (training/resident.py): a family that declares frame_means gives the same
outputs on the per-segment frame means as on the 80 frames, and a shared Resident uploads a split
once without changing what a training does."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.test_training import FAMILY_KWARGS, make_features, numbers, run, tiny
from vplan_core.models import FAMILIES, family
from vplan_core.training.resident import Resident, upload
from vplan_core.training.trainer import TrainConfig, initial_model

# float32, inputs ~N(0, 1): averaging before a linear layer instead of after (and standardising
# the frames or their means) changes only the summation order, ~1e-6 at the outputs.
ATOL = 1e-5


@pytest.mark.parametrize("model", [name for name in FAMILIES if family(name).frame_means])
@pytest.mark.parametrize("standardize", [False, True])
def test_frame_means_give_the_outputs_of_the_frames(model, standardize):
    """Outputs on upload(..., frame_means=True) equal those on the frames, in eval mode and in
    training mode with the same dropout noise, input standardisation on or off."""
    torch.set_num_threads(1)
    features = make_features(6, 3)
    frames = upload(features, torch.device("cpu"), frame_means=False)
    means = upload(features, torch.device("cpu"), frame_means=True)
    assert means[1].shape == (6, 10, 32) and frames[1].shape == (6, 80, 32)
    config = TrainConfig(model=model, model_kwargs=FAMILY_KWARGS.get(model, {}), d_model=32,
                         standardize_inputs=standardize)
    net = initial_model(config, frames, 25, seed=0)
    with torch.no_grad():
        for expected, got in zip(net.eval()(*frames), net(*means), strict=True):
            torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
        noise = torch.rand(net.noise_size(6, 10), generator=torch.Generator().manual_seed(1))
        for expected, got in zip(net.train()(*frames, noise=noise), net(*means, noise=noise), strict=True):
            torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_a_shared_resident_uploads_once_and_trains_alike(data):
    """Two trainings on one Resident read the same device copies (each split uploaded once, as
    frame means) and train exactly as with copies of their own."""
    resident = Resident("cpu")
    config = tiny(epochs=1, seeds=(0, 1))
    shared = [run(config, data, resident=resident) for _ in range(2)]
    train_f, val_f = data[0], data[3]
    assert set(resident.copies) == {(id(train_f), True), (id(val_f), True)}
    copy = resident(train_f, True)
    assert copy[1].shape == (40, 10, 32) and resident(train_f, True) is copy
    own = run(config, data)
    for results in shared:
        for r, o in zip(results, own, strict=True):
            assert numbers(r.history) == numbers(o.history)


def test_frames_resident_for_a_family_that_reads_them(data, monkeypatch):
    """A family without frame_means keeps the frames on the device (and trains as before)."""
    from vplan_core.models import han
    monkeypatch.setattr(han, "FAMILY", replace(han.FAMILY, frame_means=False))
    resident = Resident("cpu")
    run(tiny(epochs=1), data, resident=resident)
    assert {key[1] for key in resident.copies} == {False}
    assert all(copy[1].shape[1] == 80 for _, copy in resident.copies.values())


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    train_f, val_f = make_features(40, 0), make_features(8, 1)
    y = (rng.random((40, 25)) < 0.1).astype(np.uint8)
    y[:, 0] = 1
    seg = ((rng.random((40, 10, 25)) < 0.5) & y[:, None, :].astype(bool)).astype(np.uint8)
    gt = (rng.random((8, 10, 25)) < 0.05).astype(np.uint8)
    return train_f, y, seg, val_f, gt, gt
