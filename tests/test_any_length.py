"""Videos of any length through training and prediction (data/dataset.py Features.groups,
training/prediction.py predict_split): what a video gets is what it gets alone, padding never
reaches a score, and the families LFAV plans train on such a validation split."""
import numpy as np
import pytest

from vplan_core.data.dataset import Features, TrainingSet, ValidationSet
from vplan_core.method.losses import LossConfig
from vplan_core.models import family
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.prediction import predict_split
from vplan_core.training.settings import TrainConfig
from vplan_core.training.trainer import train

DIM, CLASSES = 12, 35
SMALL = {"han": {"d_model": 16}, "mm_pyramid": dict(hidden_dim=16, ffn_dim=24, levels=3, nhead=2),
         "valor": dict(hidden_dim=16, nhead=2, ff_dim=24, num_layers=1)}


def ragged(lengths, seed=0) -> Features:
    rng = np.random.default_rng(seed)
    per_input = [[rng.normal(size=(n, DIM)).astype(np.float32) for n in lengths] for _ in range(3)]
    return Features([f"video{i:06d}" for i in range(len(lengths))], *per_input)


def test_a_video_is_predicted_as_it_would_be_alone():
    features = ragged([5, 1, 9, 5, 30, 9])
    model = family("han").build(audio_dim=DIM, visual_2d_dim=DIM, visual_3d_dim=DIM, num_classes=CLASSES,
                                frames_per_segment=1, d_model=16).eval()
    batch = SeedBatch([model])
    upload = lambda f: f.to_tensors("cpu")  # noqa: E731
    pred = predict_split(batch, features, upload, modality_probs=True)
    assert pred["audio_prob"].shape == (1, 6, 30, CLASSES)
    np.testing.assert_array_equal(pred["lengths"], [5, 1, 9, 5, 30, 9])
    for i in range(6):
        alone = predict_split(batch, Features([features.video_ids[i]], *(getattr(features, k)[i][None]
                                                                         for k in ("audio", "visual_2d", "visual_3d"))),
                              upload, modality_probs=True)
        n = pred["lengths"][i]
        np.testing.assert_allclose(pred["audio_prob"][0, i, :n], alone["audio_prob"][0, 0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(pred["visual_video_prob"][0, i], alone["visual_video_prob"][0, 0], rtol=0, atol=1e-6)
        assert not pred["audio_prob"][0, i, n:].any()  # padding is zeros, past the video's end
    with pytest.raises(ValueError, match="use Features.groups"):
        features.to_tensors("cpu")


def test_inputs_of_one_video_must_agree_in_length():
    features = ragged([4, 6])
    with pytest.raises(ValueError, match="inputs of different lengths"):
        Features(features.video_ids, features.audio, features.visual_2d, [features.visual_3d[0], features.visual_3d[0]])


@pytest.mark.parametrize("model", ["han", "mm_pyramid", "valor"])
def test_families_train_on_equal_length_samples_and_select_on_videos_of_any_length(model):
    rng = np.random.default_rng(1)
    train_features = ragged([3, 17, 40, 8, 25, 12], seed=2).equal_length(20)
    labels = (rng.random((6, CLASSES)) < 0.2).astype(np.uint8)
    val = ragged([4, 1, 11, 7])
    gt = np.zeros((4, 11, CLASSES), np.uint8)
    for i, n in enumerate(val.lengths):
        gt[i, :n, :] = (rng.random((n, CLASSES)) < 0.3)  # every class present: no NaN mAP
    kwargs = {k: v for k, v in SMALL[model].items() if k != "d_model"}
    config = TrainConfig(loss=LossConfig(kind="han"), model=model, seeds=(0, 1), epochs=2, batch_size=4,
                         lr=1.0e-3, device="cpu", model_kwargs=kwargs, d_model=SMALL[model].get("d_model", 512))
    results = train(config, TrainingSet(train_features, labels), ValidationSet(val, gt, gt, "lfav"), log=lambda _: None)
    assert [r.best_epoch for r in results] != [0, 0]
    assert all(np.isfinite(r.best_score) for r in results)
    metrics = results[0].history[-1]["val_metrics"]
    assert set(metrics) >= {"segment_level", "event_level", "segment_map", "selection"}
