"""Trainer: rows ①-⑤ on tiny random data, seeds batched, determinism, NaN detection, checkpoints."""
import copy
import functools
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vplan_core.models.han import HAN
from vplan_core.training.checkpoints import load_checkpoint, save_checkpoint
from vplan_core.data.dataset import Features, TrainingSet, ValidationSet
from vplan_core.method.losses import LossConfig
from vplan_core.evaluation.metrics import binarize
from vplan_core.method.pld import denoise, forward_loss_matrix
from vplan_core.training.prediction import predict
from vplan_core.training.trainer import TrainConfig, train

C, T = 25, 10


def make_features(n: int, seed: int) -> Features:
    rng = np.random.default_rng(seed)
    return Features(
        video_ids=[f"vid{seed:03d}{i:04d}" for i in range(n)],
        audio=rng.standard_normal((n, T, 16), dtype=np.float32),
        visual_2d=rng.standard_normal((n, 8 * T, 32), dtype=np.float32),
        visual_3d=rng.standard_normal((n, T, 16), dtype=np.float32),
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    train_f, val_f = make_features(64, 0), make_features(24, 1)
    y = (rng.random((64, C)) < 0.1).astype(np.uint8)
    y[:, 0] = 1
    seg = ((rng.random((64, T, C)) < 0.5) & y[:, None, :].astype(bool)).astype(np.uint8)
    gt_a = (rng.random((24, T, C)) < 0.05).astype(np.uint8)
    gt_v = (rng.random((24, T, C)) < 0.05).astype(np.uint8)
    return train_f, y, seg, val_f, gt_a, gt_v


def tiny(loss: str = "plg_rl", **kw) -> TrainConfig:
    torch.set_num_threads(1)
    return TrainConfig(**{"loss": LossConfig(loss), "epochs": 2, "batch_size": 16, "d_model": 32,
                          "lr": 1e-3, **kw})


def run(config, data, seg=None, **kw):
    train_f, y, default_seg, val_f, gt_a, gt_v = data
    return train(config, TrainingSet(train_f, y, default_seg if seg is None else seg),
                 ValidationSet(val_f, gt_a, gt_v), log=lambda _: None, **kw)


def run_one(config, data, **kw):
    (result,) = run(config, data, **kw)
    return result


def strip(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def numbers(history) -> dict:
    """Every number of a history except the timings, by path (epoch/key/level/metric)."""
    flat = {}
    for h in strip(history):
        for key, value in h.items():
            if isinstance(value, dict):
                flat.update({(h["epoch"], key, level, name): v
                             for level, metrics in value.items() for name, v in metrics.items()})
            else:
                flat[(h["epoch"], key)] = value
    return flat


def check_history(result, epochs=2):
    assert [h["epoch"] for h in result.history] == list(range(1, epochs + 1))
    for h in result.history:
        assert math.isfinite(h["train_loss"]) and h["seconds"] >= 0
        assert set(h["val_metrics"]) == {"segment_level", "event_level"}
        assert all(math.isfinite(v) for level in h["val_metrics"].values() for v in level.values())
    assert 1 <= result.best_epoch <= epochs
    assert result.best_score == result.history[result.best_epoch - 1]["val_metrics"]["segment_level"]["type_at_av"]
    assert not result.model.training
    assert next(result.model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("loss", ["han", "plg", "plg_segbce", "plg_rl"])
def test_rows_1_to_4_train(data, loss):
    check_history(run_one(tiny(loss), data))


def test_row_1_ignores_segment_labels(data):
    a = run_one(tiny("han"), data)
    b = run_one(tiny("han"), data, seg=np.zeros_like(data[2]))
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]


def test_row_5_trains_each_seed_on_its_own_pld_labels(data):
    """Row ⑤ of seed s trains on the labels PLD made with seed s's stage-1 model."""
    train_f, _, seg, *_ = data
    stage1 = run(tiny(epochs=1, seeds=(0, 1)), data)
    refined = np.stack([denoise(forward_loss_matrix(predict(r.model, train_f)["visual_prob"], seg), seg)
                        for r in stage1])
    assert refined.shape == (2, *seg.shape) and refined.dtype == np.uint8
    stage2 = run(tiny(seeds=(0, 1)), data, seg=refined)
    for result in stage2:
        check_history(result)
    alone = run_one(tiny(seeds=(1,)), data, seg=refined[1:])
    assert numbers(alone.history) == pytest.approx(numbers(stage2[1].history), abs=1e-5)
    with pytest.raises(ValueError, match="for 2 seeds"):
        run(tiny(seeds=(0, 1)), data, seg=refined[:1])


def test_lr_schedule_and_missing_labels(data):
    result = run_one(tiny("han", epochs=3, lr_step=2, lr_gamma=0.5), data)
    assert [h["lr"] for h in result.history] == pytest.approx([1e-3, 1e-3, 5e-4])
    train_f, y, _, val_f, gt_a, gt_v = data
    with pytest.raises(ValueError):
        train(tiny("plg"), TrainingSet(train_f, y), ValidationSet(val_f, gt_a, gt_v), log=lambda _: None)
    with pytest.raises(ValueError):
        LossConfig("bogus")
    with pytest.raises(ValueError):
        LossConfig(rl_distance="kl")
    with pytest.raises(ValueError, match="distinct"):
        TrainConfig(seeds=(1, 1))


def test_deterministic_on_cpu(data):
    a, b = run_one(tiny(), data), run_one(tiny(), data)
    assert strip(a.history) == strip(b.history)
    pa, pb = predict(a.model, data[3]), predict(b.model, data[3])
    for key in ("video_prob", "audio_prob", "visual_prob"):
        np.testing.assert_array_equal(pa[key], pb[key])
    assert run_one(tiny(seeds=(1,)), data).history[0]["train_loss"] != a.history[0]["train_loss"]


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_a_seed_trains_alike_alone_and_batched(data, dropout):
    """Every seed of a batched run equals the run of that seed alone (CPU, 1e-5): its own
    initialisation, data order, dropout noise, model selection and history. With dropout the
    masks come from each seed's own generator, so this holds with dropout on too."""
    batched = run(tiny(seeds=(0, 1, 2), dropout=dropout, epochs=3), data)
    assert [r.seed for r in batched] == [0, 1, 2]
    alone = run_one(tiny(seeds=(1,), dropout=dropout, epochs=3), data)
    one = batched[1]
    assert (one.best_epoch, one.best_score) == (alone.best_epoch, alone.best_score)
    assert numbers(one.history) == pytest.approx(numbers(alone.history), abs=1e-5)
    for name, value in alone.model.state_dict().items():
        torch.testing.assert_close(one.model.state_dict()[name], value, atol=1e-5, rtol=0)
    # and the seeds are different models
    assert not torch.equal(batched[0].model.fc_prob.weight, batched[1].model.fc_prob.weight)


# Small instances of the other parser families (constructor arguments of their official names).
FAMILY_KWARGS = {
    "mgn": {"dim": 16, "depth_aud": 1, "depth_vis": 1, "depth_av": 1, "num_heads": 2},
    "mm_pyramid": {"hidden_dim": 16, "ffn_dim": 16, "levels": 2, "nhead": 2},
}


@pytest.mark.parametrize("model", sorted(FAMILY_KWARGS))
def test_every_family_trains_a_seed_alike_alone_and_batched(data, model, tmp_path):
    """The seed-batch guarantees hold for every parser family (its drop path, Gumbel noise or
    dropout read from each seed's own noise), with its own extra loss terms; its checkpoint
    records the family, and the model is rebuilt from it."""
    config = tiny("plg_rl", seeds=(0, 1, 2), epochs=2, model=model, model_kwargs=FAMILY_KWARGS[model])
    batched = run(config, data)
    alone = run_one(replace(config, seeds=(1,)), data)
    one = batched[1]
    assert (one.best_epoch, one.best_score) == (alone.best_epoch, alone.best_score)
    assert numbers(one.history) == pytest.approx(numbers(alone.history), rel=1e-5, abs=1e-5)
    # The same function: MGN has biases in front of softmaxes they cannot change (a query bias,
    # the group MLPs' last bias), whose gradient is 0 up to float32 rounding; Adam scales that
    # rounding to full steps, differently batched and alone, so those weights part while the
    # outputs do not. Every output agrees; the one-step gradients agree to 1e-5 (test_mgn.py).
    for key, value in predict(alone.model, data[3]).items():
        np.testing.assert_allclose(predict(one.model, data[3])[key], value, atol=1e-4, rtol=0)
    assert type(one.model).__name__ != "HAN"
    path = tmp_path / "model.pt"
    save_checkpoint(path, one.model, config, {})
    loaded, payload = load_checkpoint(path)
    assert payload["family"] == model and type(loaded) is type(one.model)
    for key, value in predict(one.model, data[3]).items():
        np.testing.assert_array_equal(predict(loaded, data[3])[key], value)


def test_nan_loss_names_epoch_batch_and_seed(data):
    train_f, *rest = data
    bad = Features(train_f.video_ids, train_f.audio.copy(), train_f.visual_2d, train_f.visual_3d)
    bad.audio[:] = np.nan
    with pytest.raises(RuntimeError, match=r"epoch 1, batch 1\b.*seed 4"):
        run((tiny(seeds=(4, 5))), (bad, *rest))


def test_predict_shapes(data):
    result = run_one(tiny(epochs=1), data)
    pred = predict(result.model, data[3], chunk=5)
    assert pred["video_prob"].shape == (24, C)
    assert pred["audio_prob"].shape == pred["visual_prob"].shape == (24, T, C)
    assert all(p.dtype == np.float32 for p in pred.values())
    np.testing.assert_allclose(predict(result.model, data[3])["visual_prob"], pred["visual_prob"], atol=1e-6)


def test_checkpoint_round_trip(data, tmp_path):
    path = tmp_path / "ckpt" / "model.pt"
    config = tiny()
    result = run_one(config, data)
    save_checkpoint(path, result.model, config, {"best_epoch": result.best_epoch})
    loaded, payload = load_checkpoint(path)
    assert payload["extra"] == {"best_epoch": result.best_epoch}
    assert TrainConfig(**payload["train_config"]) == config
    assert payload["model_kwargs"]["audio_dim"] == 16
    assert not loaded.training
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no tmp file left behind
    for key, value in predict(result.model, data[3]).items():
        np.testing.assert_array_equal(predict(loaded, data[3])[key], value)


def test_standardized_inputs_are_scale_invariant_and_survive_checkpoints(data, tmp_path):
    """Standardisation (for random-weight backbones' tiny feature scales) makes the same weights
    give the same outputs on affinely rescaled features, and its statistics travel with the
    checkpoint; it is off by default, so reference state dicts keep exactly their keys."""
    train_f, y, seg, val_f, gt_a, gt_v = data

    def scaled(f: Features) -> Features:
        return Features(f.video_ids, f.audio * 1e-2 + 5.0, f.visual_2d * 1e-2, f.visual_3d * 1e-2)

    result = run_one(tiny(standardize_inputs=True), data)
    rescaled = copy.deepcopy(result.model)
    rescaled.fit_input_statistics(*scaled(train_f).to_tensors("cpu"))
    np.testing.assert_allclose(predict(rescaled, scaled(val_f))["visual_prob"],
                               predict(result.model, val_f)["visual_prob"], atol=1e-4)

    path = tmp_path / "model.pt"
    save_checkpoint(path, rescaled, tiny(standardize_inputs=True), {})
    loaded, _ = load_checkpoint(path)
    np.testing.assert_array_equal(predict(loaded, scaled(val_f))["visual_prob"],
                                  predict(rescaled, scaled(val_f))["visual_prob"])
    assert not hasattr(run_one(tiny(), data).model, "audio_mean")


def test_standardisation_keeps_dimensions_dead_in_training_at_a_sane_scale():
    """A ReLU embedding dimension that is (almost) always 0 in training and fires at test time
    must not become an input of 10^5 (it did with the plain per-dimension deviation)."""
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.gamma(2.0, 1.0, (40, 10, 8)).astype(np.float32))
    audio[..., 0] = 0.0
    audio[0, 0, 0] = 1e-4  # dead in training but for one tiny activation
    visual_2d, visual_3d = torch.ones(40, 80, 4) + torch.rand(40, 80, 4), torch.rand(40, 10, 4)
    model = HAN(audio_dim=8, visual_2d_dim=4, visual_3d_dim=4, d_model=8, standardize_inputs=True)
    model.fit_input_statistics(audio, visual_2d, visual_3d)
    live = audio[..., 1:].reshape(-1, 7).std(0)
    assert model.audio_std[0] == pytest.approx(0.1 * float(torch.cat([live, torch.zeros(1)]).square().mean().sqrt()), rel=1e-3)
    torch.testing.assert_close(model.audio_std[1:], live)  # live dimensions: their own deviation
    assert 3.0 / model.audio_std[0] < 100  # a test-time activation of 3 stays a moderate input


def prototype_world(n: int, seed: int) -> tuple[Features, np.ndarray, np.ndarray, np.ndarray]:
    """Informative features: each segment's features are the sum of per-class prototypes of
    the classes audible (audio) or visible (visual) there, plus noise. Returns (features,
    weak labels [n, C], dense audio GT, dense visual GT [n, T, C])."""
    rng = np.random.default_rng(seed)
    proto_a = np.random.default_rng(100).standard_normal((C, 16)).astype(np.float32)
    proto_v = np.random.default_rng(101).standard_normal((C, 32)).astype(np.float32)
    y = np.zeros((n, C), np.uint8)
    gt_a, gt_v = np.zeros((n, T, C), np.uint8), np.zeros((n, T, C), np.uint8)
    for i in range(n):
        for c in rng.choice(C, size=rng.integers(1, 3), replace=False):
            y[i, c] = 1
            modality = rng.random()
            (a0, a1), (v0, v1) = (sorted(rng.integers(0, 11, 2)) for _ in range(2))
            if modality < 0.8:
                gt_a[i, a0:max(a1, a0 + 1), c] = 1
            if modality > 0.3:
                gt_v[i, v0:max(v1, v0 + 1), c] = 1

    def noisy(x):
        return (x + 0.5 * rng.standard_normal(x.shape)).astype(np.float32)

    visual = gt_v @ proto_v
    features = Features([f"p{seed}_{i:04d}" for i in range(n)], noisy(gt_a @ proto_a),
                        noisy(np.repeat(visual, 8, axis=1)), noisy(visual))
    return features, y, gt_a, gt_v


def test_row4_with_bce_richness_keeps_predicting_positives():
    """The richness-aware loss with its default BCE distance must not collapse training: on
    informative features, row ④ predicts a good share of the true audio and visual segments.
    (With ĉr divided by the attention-pooled p^v it predicted nothing at all, audio included.)"""
    torch.set_num_threads(1)
    train_f, y, _, seg = prototype_world(256, 0)  # clean visual pseudo labels
    val_f, _, gt_a, gt_v = prototype_world(64, 1)
    config = TrainConfig(loss=LossConfig("plg_rl", rl_distance="bce"), epochs=15, batch_size=16,
                         d_model=32, lr=3e-3, lr_step=1000)
    (result,) = train(config, TrainingSet(train_f, y, seg), ValidationSet(val_f, gt_a, gt_v), log=lambda _: None)
    pred = predict(result.model, val_f)
    so_a, so_v = binarize(pred["audio_prob"], pred["visual_prob"], pred["video_prob"])
    assert so_v.sum() > 0.5 * gt_v.sum() and so_a.sum() > 0.5 * gt_a.sum()
    assert result.best_score > 50.0


# Compiled and eager results agree to float reordering, which Adam amplifies: HAN and MM-Pyramid to
# 1e-4 in every number. MGN's training takes straight-through argmax assignments (its audio
# grouping block): a reordering that flips one argmax sends the two runs apart, so that val
# F-scores at a 0.5 threshold and the weights may differ after a few steps; its training losses
# agree to 2e-3 over the test's two epochs.
COMPILE_TOLERANCE = {"han": 1e-4, "mgn": 2e-3, "mm_pyramid": 1e-4}


# HAN's step goes through inductor, as train.compile runs it on a CPU (about 35 s a case from a
# cold cache here). MGN's and MM-Pyramid's go through dynamo and AOTAutograd alone (backend
# aot_eager): the same capture of the whole step (its graphs, the tensor lr, the eager last
# batch), without inductor's code generation for their thousands of ops, which takes 5-7
# minutes a case on this 2-core machine.
COMPILED_CASES = [("han", 1, "inductor"), ("han", 2, "inductor"), ("mgn", 2, "aot_eager"),
                  ("mm_pyramid", 2, "aot_eager")]


@pytest.mark.slow
@pytest.mark.parametrize("model, n_seeds, backend", COMPILED_CASES, ids=[f"{m}-S{s}-{b}" for m, s, b in COMPILED_CASES])
def test_compiled_step_trains_like_the_eager_one(data, model, n_seeds, backend, monkeypatch):
    """train.compile (the whole step compiled: forward, loss, backward, Adam) changes speed, not
    results, for every family: batch 24 of 64 videos leaves a partial last batch (the eager step)
    and lr_step 1 makes the tensor lr change between epochs; the same losses, lrs, metrics and
    predictions as the eager step up to float reordering (MGN: losses and lrs, see above)."""
    if backend != "inductor":
        monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=backend))
    config = tiny(epochs=2, dropout=0.1, batch_size=24, lr_step=1, lr_gamma=0.5, seeds=tuple(range(n_seeds)),
                  model=model, model_kwargs=FAMILY_KWARGS.get(model, {}))
    eager = run(config, data)
    compiled = run(replace(config, compile=True), data)
    tol = COMPILE_TOLERANCE[model]
    for e, c in zip(eager, compiled, strict=True):
        assert [h["lr"] for h in c.history] == pytest.approx([1e-3, 5e-4], rel=1e-6)
        losses = [[h["train_loss"] for h in r.history] for r in (c, e)]
        assert losses[0] == pytest.approx(losses[1], abs=tol, rel=tol)
        if model == "mgn":
            continue
        assert numbers(c.history) == pytest.approx(numbers(e.history), abs=tol, rel=tol)
        for key, value in predict(e.model, data[3]).items():
            np.testing.assert_allclose(predict(c.model, data[3])[key], value, atol=tol, rtol=0)
