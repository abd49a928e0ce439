"""The demo backbones: in-world pretraining saves the published key layout, loads through the
real weight code strictly, and separates the demo classes better than the same network random."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from vplan_core.demo.backbones import (
    NOTHING,
    N_OUTPUTS,
    object_clip,
    object_images,
    pretrain_backbone,
    sound_example,
)
from vplan_core.features import cnn, vggish
from vplan_core.features.weights import apply_weights, sha256_file

torch.set_num_threads(1)

TINY = {"cnn2d": dict(n_examples=52, epochs=1, batch_size=26, lr=2e-3, size=32, n_holdout=26),
        "r2plus1d": dict(n_examples=26, epochs=2, batch_size=26, lr=2e-3, size=16, n_holdout=26,
                         train_from="layer4"),
        "vggish": dict(n_examples=26, epochs=1, batch_size=13, lr=3e-5, n_holdout=26)}


def _published_model(backbone: str) -> torch.nn.Module:
    """The network exactly as the extractors build it before loading weights."""
    if backbone == "cnn2d":
        return torchvision.models.resnet18(weights=None)
    if backbone == "r2plus1d":
        return torchvision.models.video.r2plus1d_18(weights=None)
    return vggish.VGGish()


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbones")
    return {name: (root / f"{name}.pth", pretrain_backbone(name, root / f"{name}.pth", **settings))
            for name, settings in TINY.items()}


@pytest.mark.parametrize("backbone", list(TINY))
def test_pretraining_saves_the_published_layout_and_loads_strictly(tiny_files, backbone):
    path, log = tiny_files[backbone]
    assert not list(path.parent.glob(".*"))  # written atomically: no temporary file left
    state = torch.load(path, weights_only=True)
    reference = _published_model(backbone).state_dict()
    assert list(state) == list(reference)  # same keys, same order: a plain state dict
    assert all(state[k].shape == v.shape and state[k].dtype == v.dtype for k, v in reference.items())
    if backbone == "cnn2d":
        assert state["fc.weight"].shape == (1000, 512)  # ImageNet's fc, trained through 26 logits
    if backbone == "r2plus1d":
        assert state["fc.weight"].shape == (400, 512)  # Kinetics' fc
    if backbone == "vggish":
        assert list(state)[-1] == "embeddings.4.bias"  # torchvggish's names, no pretraining head

    model = _published_model(backbone)
    label, sha = apply_weights(model, str(path), f"features.{backbone}.weights", "url")
    assert label == str(path.resolve()) and sha == sha256_file(path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    random = _published_model(backbone)
    apply_weights(random, "random:0", "k", "url")
    changed = {k for k, v in random.state_dict().items() if not torch.equal(v, state[k])}
    if backbone == "r2plus1d":  # trained from layer4: the earlier stages keep their seeded weights
        assert changed and all(k.startswith(("layer4.", "fc.")) for k in changed)
    else:
        assert len(changed) > len(state) // 2  # training moved the weights off their random init
    assert log["steps"] == 2 and len(log["losses"]) == 2


def test_extractors_load_the_pretrained_files(tiny_files):
    model, label, sha = cnn.build_2d_backbone("resnet18", str(tiny_files["cnn2d"][0]))
    assert label.endswith("cnn2d.pth") and len(sha) == 64
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 512)
    model, label, _ = cnn.build_r2plus1d(str(tiny_files["r2plus1d"][0]))
    assert model(torch.zeros(1, 3, 8, 16, 16)).shape == (1, 512)


def test_in_world_data_is_balanced_and_shows_what_it_says():
    images, labels = object_images(52, np.random.default_rng(0), 32)
    assert images.shape == (52, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=N_OUTPUTS).tolist() == [2] * N_OUTPUTS
    clip = object_clip(3, np.random.default_rng(1), 32, clip_len=8)
    assert clip.shape == (8, 32, 32, 3)
    empty = object_clip(None, np.random.default_rng(1), 32, clip_len=8)
    np.testing.assert_array_equal(empty[0], empty[-1])  # nothing moves over a still background
    loud, quiet = (sound_example(c, np.random.default_rng(2)) for c in (5, None))
    assert loud.shape == quiet.shape == (1, 96, 64)
    assert loud.max() > quiet.max() + 2.0  # a class sound is far above the background noise
    assert NOTHING == 25


def _centroid_accuracy(features: np.ndarray, labels: np.ndarray, n_train: int) -> float:
    """Nearest class centroid (cosine, standardised features), fitted on the first n_train."""
    mean, std = features[:n_train].mean(0), features[:n_train].std(0) + 1e-6
    z = (features - mean) / std
    z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-9
    centroids = np.stack([z[:n_train][labels[:n_train] == c].mean(0) for c in range(N_OUTPUTS)])
    predicted = (z[n_train:] @ centroids.T).argmax(1)
    return float((predicted == labels[n_train:]).mean())


@pytest.mark.slow
def test_a_pretrained_2d_cnn_separates_the_demo_classes_better_than_a_random_one(tmp_path):
    """A tiny pretraining (32 px, 80 steps, well under a minute) against the same ResNet-18
    random, judged by nearest-centroid accuracy on fresh, plainly visible objects."""
    path = tmp_path / "cnn2d.pth"
    log = pretrain_backbone("cnn2d", path, n_examples=2080, epochs=2, batch_size=52, lr=2e-3,
                            size=32, n_holdout=26)
    images, labels = object_images(520, np.random.default_rng(123), 32, conditions=False)
    scores = {}
    for weights in ("random:0", str(path)):
        model, _, _ = cnn.build_2d_backbone("resnet18", weights)
        with torch.inference_mode():
            feats = model(cnn.images_to_2d_input(images)).numpy()
        scores[weights] = _centroid_accuracy(feats, labels, 260)
    random, pretrained = scores["random:0"], scores[str(path)]
    assert pretrained > random + 0.15, (scores, log["holdout_accuracy"])
