"""MM-Pyramid (vplan_core/models/mm_pyramid.py) against the official AVVPNet
(tests/official/mm_pyramid_official.py, JustinYuu/MM_Pyramid @ 1c641a5), and its seed batching."""
import torch
from torch import nn
from torch.func import functional_call

import pytest

from tests.official.mm_pyramid_official import AVVPNet
from vplan_core.method.losses import LossConfig, compute_loss
from vplan_core.models.mm_pyramid import MMPyramid, band_outside
from vplan_core.models.noise import DropoutTape
from vplan_core.models.seed_batch import SeedBatch

DIMS = dict(audio_dim=12, visual_2d_dim=20, visual_3d_dim=8, num_classes=7)
HYPER = dict(hidden_dim=16, ffn_dim=24, levels=3, nhead=2)
T, F = 10, 8  # the official fusion module hard-codes 10 segments

torch.set_num_threads(1)  # tiny ops: threads only contend (as test_extractors.py does)


def official(seed: int = 0, **dims) -> AVVPNet:
    dims = {**DIMS, **dims}
    torch.manual_seed(seed)
    return AVVPNet(HYPER["nhead"], HYPER["hidden_dim"], HYPER["ffn_dim"], [HYPER["hidden_dim"]] * HYPER["levels"],
                   **dims)


def ours(seed: int = 0, **kwargs) -> MMPyramid:
    torch.manual_seed(seed)
    return MMPyramid(**{**DIMS, **HYPER, **kwargs})


def inputs(batch: int, seed: int = 1, lead: tuple = ()):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, batch, T, DIMS["audio_dim"], generator=g),
            torch.randn(*lead, batch, T * F, DIMS["visual_2d_dim"], generator=g),
            torch.randn(*lead, batch, T, DIMS["visual_3d_dim"], generator=g))


def unused_by_official_forward(key: str) -> bool:
    """Keys of the official state dict that its forward never reads (mm_pyramid.py docstring)."""
    parts = key.split(".")
    return (parts[-2] in {"conv1", "conv2"}                      # aliases of net.0 / net.2
            or parts[2] in {"multiheadattn", "feedforward"}      # MMP.{capture,fusion}.<template>
            or parts[-2] == "layer_norm")                       # MultiHeadAttention.layer_norm


def assert_outputs_close(got, expected, atol=1e-5):
    assert len(got) == len(expected) == 4
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, atol=atol, rtol=0)


# ---------------------------------------------------------------- (a) equivalence
def test_official_state_dict_loads_and_official_order_outputs_match():
    ref = official(seed=3).eval()
    model = ours(seed=0, official_modality_order=True).eval()
    state = ref.state_dict()
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys and all(unused_by_official_forward(k) for k in result.unexpected_keys)
    # The conv1/conv2 keys left over hold the very tensors loaded under net.0/net.2.
    for key in result.unexpected_keys:
        if ".conv1." in key or ".conv2." in key:
            alias = key.replace(".conv1.", ".net.0.").replace(".conv2.", ".net.2.")
            assert torch.equal(state[key], model.state_dict()[alias])

    audio, v2d, v3d = inputs(3)
    with torch.no_grad():
        assert_outputs_close(model(audio, v2d, v3d), ref(audio, v2d, v3d))


def test_same_seed_gives_the_official_initial_weights():
    """Built in the official order (templates included), so one seed gives the official init,
    with its quirks (q/k/v/out projections of an attention start equal)."""
    ref_state, state = official(seed=5).state_dict(), ours(seed=5).state_dict()
    assert set(state) <= set(ref_state)
    for key, value in state.items():
        assert torch.equal(value, ref_state[key]), key
    linears = ours(seed=5).MMP.capture.msa[0].vsablock.layer.self_attn.linears
    assert torch.equal(linears[0].weight, linears[3].weight)


def test_default_order_swaps_the_audio_and_visual_roles():
    """Same weights: official_modality_order=False feeds index 0 (a_prob, the audio loss) from the
    audio-feature stream a_o and index 1 from the visual-feature stream v_o; the official order
    has them the other way round. Global prob is unchanged."""
    ref = official(seed=2).eval()
    model = ours(official_modality_order=False).eval()
    model.load_state_dict(ref.state_dict(), strict=False)
    audio, v2d, v3d = inputs(2)
    with torch.no_grad():
        p_ref, pa_ref, pv_ref, frame_ref = ref(audio, v2d, v3d)
        p, pa, pv, frame = model(audio, v2d, v3d)
    torch.testing.assert_close(p, p_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(pa, pv_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(pv, pa_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(frame, frame_ref.flip(2), atol=1e-5, rtol=0)
    assert not torch.allclose(pa, pa_ref, atol=1e-3)

    # Index 0 really is the audio-feature stream: it is what the MMP returns second (a_o).
    with torch.no_grad():
        f_a = model.fc_a(audio)
        vid_s = model.fc_v(v2d.reshape(2, T, F, -1).mean(2))
        f_v = model.fc_fusion(torch.cat((vid_s, model.fc_st(v3d)), -1))
        _, a_o = model.MMP(f_v, f_a)
    torch.testing.assert_close(frame[:, :, 0], torch.sigmoid(model.fc_prob(a_o)), atol=1e-6, rtol=0)


def test_default_dims_match_official():
    """hidden 512, 4 levels, 8 heads, 128/2048/512 inputs, 25 classes."""
    torch.manual_seed(0)
    ref = AVVPNet(8, 512, 512, [512] * 4).eval()
    model = MMPyramid(official_modality_order=True).eval()
    assert model.init_kwargs == dict(audio_dim=128, visual_2d_dim=2048, visual_3d_dim=512, num_classes=25,
                                     frames_per_segment=8, hidden_dim=512, ffn_dim=512, levels=4, nhead=8,
                                     dropout=0.2, attn_dropout=0.1, official_modality_order=True,
                                     standardize_inputs=False)
    assert model.load_state_dict(ref.state_dict(), strict=False).missing_keys == []
    g = torch.Generator().manual_seed(0)
    audio, v2d, v3d = (torch.randn(1, 10, 128, generator=g), torch.randn(1, 80, 2048, generator=g),
                       torch.randn(1, 10, 512, generator=g))
    with torch.no_grad():
        assert_outputs_close(model(audio, v2d, v3d), ref(audio, v2d, v3d))


class _TapeDropout(nn.Module):
    """Stands in for an nn.Dropout of the official module: reads the shared tape."""

    def __init__(self, holder: dict, p: float):
        super().__init__()
        self.holder, self.p = holder, p

    def forward(self, x):
        return self.holder["tape"](x, self.p)


def test_training_mode_matches_official_given_the_same_dropout_masks():
    """The official network with its nn.Dropout modules reading the same noise: our dropout sites
    come in its order and noise_size counts them all (check_used)."""
    ref = official(seed=4)
    holder = {}
    for module in list(ref.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(module, name, _TapeDropout(holder, child.p))
    model = ours(official_modality_order=True)
    model.load_state_dict(ref.state_dict(), strict=False)
    ref.train(), model.train()
    audio, v2d, v3d = inputs(2)
    noise = torch.rand(model.noise_size(2, T), generator=torch.Generator().manual_seed(9))
    holder["tape"] = DropoutTape(noise, 0.2)
    expected = ref(audio, v2d, v3d)
    holder["tape"].check_used()
    assert_outputs_close(model(audio, v2d, v3d, noise=noise), expected)
    with torch.no_grad():
        assert not torch.allclose(model.eval()(audio, v2d, v3d)[3], expected[3], atol=1e-3)


# ---------------------------------------------------------------- (b) seed batching
SEEDS = (0, 1, 2)
B = 3


def seed_models(**kwargs) -> list[MMPyramid]:
    return [ours(seed=s, **kwargs) for s in SEEDS]


def test_seed_batch_training_equals_each_seed_alone():
    models = seed_models()
    batch = SeedBatch(models)
    size = batch.noise_size(B, T)
    assert size == models[0].noise_size(B, T) > 0
    noise = torch.stack([torch.rand(size, generator=torch.Generator().manual_seed(100 + s)) for s in SEEDS])
    audio, v2d, v3d = inputs(B, lead=(len(SEEDS),))
    labels = (torch.rand(len(SEEDS), B, DIMS["num_classes"], generator=torch.Generator().manual_seed(7)) > 0.6).float()
    cfg = LossConfig(kind="han")

    outputs = batch(audio, v2d, v3d, noise=noise, training=True)
    losses = torch.stack([compute_loss(tuple(o[s] for o in outputs), labels[s], None, cfg)
                          for s in range(len(SEEDS))])
    losses.sum().backward()

    for s, model in enumerate(models):
        model.train()
        params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
        alone = functional_call(model, params, (audio[s], v2d[s], v3d[s]), {"noise": noise[s]})
        assert_outputs_close(tuple(o[s] for o in outputs), alone)
        compute_loss(alone, labels[s], None, cfg).backward()
        for name, p in params.items():
            torch.testing.assert_close(batch.params[name].grad[s], p.grad, atol=1e-5, rtol=0, msg=name)


def test_seed_batch_eval_with_shared_inputs_equals_each_seed_alone():
    models = seed_models(standardize_inputs=True)
    audio, v2d, v3d = inputs(B)
    for m in models:
        m.fit_input_statistics(audio, v2d, v3d)
    batch = SeedBatch(models)
    with torch.no_grad():
        outputs = batch(audio, v2d, v3d, shared_inputs=True, training=False)
        for s, model in enumerate(models):
            assert_outputs_close(tuple(o[s] for o in outputs), model.eval()(audio, v2d, v3d))
        # SeedBatch rebuilds a seed from init_kwargs and loads its slice strictly.
        assert_outputs_close(batch.model(1)(audio, v2d, v3d), models[1](audio, v2d, v3d), atol=0)


# ---------------------------------------------------------------- (c) noise
def test_wrong_size_noise_raises():
    model = ours().train()
    audio, v2d, v3d = inputs(2)
    size = model.noise_size(2, T)
    for n in (size - 1, size + 1, 0):
        with pytest.raises(ValueError):
            model(audio, v2d, v3d, noise=torch.rand(n))


def test_noise_size_zero_without_dropout():
    model = ours(dropout=0.0, attn_dropout=0.0).train()
    assert model.noise_size(4, T) == 0 and model.noise_size(4) == 0
    audio, v2d, v3d = inputs(2)
    train_out = model(audio, v2d, v3d)
    with torch.no_grad():
        assert_outputs_close(train_out, model.eval()(audio, v2d, v3d), atol=0)
    # Each probability counts on its own: only the attention maps draw noise here.
    attn_only = ours(dropout=0.0, attn_dropout=0.1)
    levels, h = HYPER["levels"], HYPER["nhead"]
    assert attn_only.noise_size(2, T) == 2 * h * (levels * 4 * T * T + 2 * T * levels * levels)


def test_band_masks_are_built_once_per_shape():
    """The attention band of every call comes from one cached mask per (lengths, band, device),
    equal to the official |i - j| > masksize // 2 rule."""
    mask = band_outside(T, T, 2, torch.device("cpu"))
    assert band_outside(T, T, 2, torch.device("cpu")) is mask
    expected = torch.tensor([[abs(i - j) > 2 for j in range(T)] for i in range(T)])
    assert torch.equal(mask, expected)
    assert not torch.equal(band_outside(T, T, 4, torch.device("cpu")), mask)
