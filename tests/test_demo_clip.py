"""The demo CLIP: tiny training run, open_clip checkpoint, and loading through load_clip."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vplan_core.demo.clip_training import (
    CONFIG_FILE,
    MODEL_NAME,
    create_demo_model,
    evaluate_demo_clip,
    model_image_size,
    train_demo_clip,
)
from vplan_core.demo.render import render_object_image
from vplan_core.data.frames import resize_crop
from vplan_core.features.clip import encode_images, encode_texts, image_input, load_clip, model_frames
from vplan_core.data.description import LLP
CLASSES = LLP.classes
from vplan_core.method.plg import prompt_texts


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "demo_clip.pt"
    log = train_demo_clip(path, n_images=200, epochs=2, batch_size=25, seed=0)
    return path, log


def test_training_lowers_the_loss(trained):
    _, log = trained
    assert log["steps"] == 16 and len(log["losses"]) == 16
    assert np.mean(log["losses"][-3:]) < np.mean(log["losses"][:3])


def test_checkpoint_loads_through_the_real_clip_code_path(trained):
    path, _ = trained
    model, preprocess, tokenizer = load_clip(MODEL_NAME, str(path), str(CONFIG_FILE))
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert not model.training

    frames = np.stack([render_object_image(c, np.random.default_rng(c), 144) for c in range(3)])
    images = encode_images(model, frames, batch_size=2)
    texts = encode_texts(model, tokenizer, prompt_texts("P1", CLASSES))
    assert images.shape == (3, 128) and texts.shape == (25, 128)
    assert images.dtype == texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)

    report = evaluate_demo_clip(model, tokenizer, n_images=25)
    assert 0 <= report["accuracy"] <= 1 and report["empty_any_above_tau"] == 1.0


def test_training_input_matches_the_inference_preprocess():
    """Training images are shrunk as the extractor shrinks a frame (clip.model_frames), and both
    lie within a grey level of open_clip's own (PIL) preprocess."""
    model, preprocess, _ = create_demo_model()
    frame = render_object_image(7, np.random.default_rng(0), 144)
    shrunk = model_frames(model, torch.from_numpy(frame)[None])
    assert torch.equal(shrunk[0], resize_crop(frame, model_image_size(model), mode="bicubic"))  # object_images' rule
    std = torch.tensor(model.visual.preprocess_cfg["std"]).view(1, 3, 1, 1)
    levels = (image_input(model, shrunk) - preprocess(Image.fromarray(frame))[None]).abs() * std * 255
    assert float(levels.max()) <= 1.0 + 1e-4


def test_missing_checkpoint_names_the_path_and_where_weights_live(tmp_path):
    missing = tmp_path / "ViT-B-32-openai.pt"
    with pytest.raises(FileNotFoundError, match="ViT-B-32-openai.pt") as err:
        load_clip("ViT-B-32", str(missing))
    assert "open_clip" in str(err.value) and "openai" in str(err.value).lower()
