"""MGN (vplan_core/models/mgn.py) against the official MGN_Net of stoneMo/MGN
(tests/official/mgn_official.py, a verbatim transcription), and as a member of a seed batch."""
import types

import pytest
import torch
from torch.func import functional_call
from timm.layers import DropPath

from tests.official import mgn_official
from tests.official.mgn_official import MGN_Net, official_loss
from vplan_core.method.losses import LossConfig, han_loss
from vplan_core.models.mgn import MGN, mgn_loss_extra
from vplan_core.models.noise import DropoutTape
from vplan_core.models.seed_batch import SeedBatch

T, F = 10, 8
HAN_CFG = LossConfig(kind="han")  # smoothing audio 1.0, visual 0.9: main.py's
ASSIGNS = [("soft", "soft"), ("hard", "hard"), ("soft", "hard"), ("hard", "soft")]
SMALL = dict(dim=32, depth_aud=1, depth_vis=1, depth_av=2)


def official_args(dim=128, depth_aud=3, depth_vis=3, depth_av=6, unimodal_assign="soft", crossmodal_assign="soft"):
    return types.SimpleNamespace(dim=dim, depth_aud=depth_aud, depth_vis=depth_vis, depth_av=depth_av,
                                 unimodal_assign=unimodal_assign, crossmodal_assign=crossmodal_assign)


def official_inputs(batch: int, seed: int = 0):
    """Features of the official sizes: VGGish 128, ResNet-152 2048 at 8 frames a segment, R(2+1)D 512."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, T, 128, generator=g), torch.randn(batch, T * F, 2048, generator=g),
            torch.randn(batch, T, 512, generator=g))


def labels(shape, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.2).float()


def pair(uni="soft", cross="soft", seed=0, **dims):
    """(official, ours) with the official weights copied into ours (strict: no key left over)."""
    dims = dims or SMALL
    torch.manual_seed(seed)
    official = MGN_Net(official_args(unimodal_assign=uni, crossmodal_assign=cross, **dims))
    # Trained-looking weights: the official init leaves the class tokens at zero.
    with torch.no_grad():
        official.audio_token.normal_(0, 0.5)
        official.visual_token.normal_(0, 0.5)
    ours = MGN(unimodal_assign=uni, crossmodal_assign=cross, **dims)
    result = ours.load_state_dict(official.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return official, ours


def as_official_order(out):
    """Our outputs in the official order (aud_cls, vis_cls, global, a, v, a_frame, v_frame)."""
    global_prob, a_prob, v_prob, frame_prob, aud_cls, vis_cls = out
    return (aud_cls, vis_cls, global_prob, a_prob, v_prob, frame_prob[:, :, 0], frame_prob[:, :, 1])


def assert_outputs_equal(ours, official, atol=1e-5):
    names = ("aud_cls", "vis_cls", "global", "a_prob", "v_prob", "a_frame", "v_frame")
    for name, x, y in zip(names, as_official_order(ours), official):
        assert x.shape == y.shape, name
        torch.testing.assert_close(x, y, atol=atol, rtol=0, msg=lambda m: f"{name}: {m}")


# ---------------------------------------------------------------- (a) equivalence with the official module
@pytest.mark.parametrize("uni,cross", ASSIGNS)
def test_eval_outputs_equal_official(uni, cross):
    official, ours = pair(uni, cross)
    official.eval(), ours.eval()
    inputs = official_inputs(3)
    with torch.no_grad():
        assert_outputs_equal(ours(*inputs), official(*inputs))


def test_eval_outputs_equal_official_default_dims():
    torch.manual_seed(1)
    official = MGN_Net(official_args()).eval()
    ours = MGN().eval()
    assert set(ours.state_dict()) == set(official.state_dict())
    ours.load_state_dict(official.state_dict(), strict=True)
    inputs = official_inputs(2, seed=1)
    with torch.no_grad():
        out = ours(*inputs)
        assert_outputs_equal(out, official(*inputs))
    assert out[3].shape == (2, T, 2, 25) and out[4].shape == (25, 25)


def test_defaults_and_initialisation_match_official():
    """Same constructor defaults as main.py / nets/mgn.py, and the same weights from the same seed."""
    ours = MGN()
    kw = ours.init_kwargs
    assert (kw["dim"], kw["depth_aud"], kw["depth_vis"], kw["depth_av"]) == (128, 3, 3, 6)
    assert (kw["num_heads"], kw["mlp_ratio"], kw["drop_path"], kw["drop"], kw["attn_drop"]) == (8, 4.0, 0.1, 0.0, 0.0)
    assert (kw["unimodal_assign"], kw["crossmodal_assign"]) == ("soft", "soft")
    torch.manual_seed(3)
    official = MGN_Net(official_args(unimodal_assign="hard", **SMALL))
    torch.manual_seed(3)
    ours = MGN(unimodal_assign="hard", **SMALL)
    sd_official, sd_ours = official.state_dict(), ours.state_dict()
    assert list(sd_ours) == list(sd_official)
    for key in sd_official:
        assert torch.equal(sd_ours[key], sd_official[key]), key


class _SharedTape:
    """Makes the official module read its stochastic depth and Gumbel noise from a DropoutTape, in
    its own call order: each DropPath calls tape.drop_path, gumbel_softmax draws its Gumbel(0, 1)
    sample from the tape (torch.distributions.Gumbel's transform of a uniform). If the official
    order of random sites differs from ours, the noise lands elsewhere and the outputs differ."""

    def __init__(self, official, noise, monkeypatch):
        self.tape = DropoutTape(noise, 0.0)
        for module in official.modules():
            if isinstance(module, DropPath):
                module.forward = (lambda m: (lambda x: self.tape.drop_path(x, m.drop_prob)))(module)
        original = mgn_official.gumbel_softmax

        def gumbel_softmax(logits, tau=1, hard=False, dim=-1):
            finfo = torch.finfo(logits.dtype)
            u = finfo.tiny + self.tape.take(tuple(logits.shape)) * (1.0 - finfo.eps - finfo.tiny)
            gumbels = -torch.log(-torch.log(u))
            # The rest of the official function, verbatim.
            gumbels = (logits + gumbels) / tau
            y_soft = gumbels.softmax(dim)
            if hard:
                index = y_soft.max(dim, keepdim=True)[1]
                y_hard = torch.zeros_like(logits, memory_format=torch.legacy_contiguous_format).scatter_(dim, index, 1.0)
                ret = y_hard - y_soft.detach() + y_soft
            else:
                ret = y_soft
            return ret

        assert original.__code__.co_varnames[:4] == ("logits", "tau", "hard", "dim")
        monkeypatch.setattr(mgn_official, "gumbel_softmax", gumbel_softmax)


@pytest.mark.parametrize("uni,cross", [("soft", "soft"), ("hard", "hard")])
def test_train_outputs_and_gradients_equal_official_with_shared_noise(uni, cross, monkeypatch):
    """Training mode (drop path 0.1 and Gumbel assignment) with the same noise: outputs, the
    official loss and every parameter's gradient agree."""
    official, ours = pair(uni, cross, seed=2)
    official.train(), ours.train()
    inputs = official_inputs(4, seed=2)
    y = labels((4, 25), seed=2)
    noise = torch.rand(ours.noise_size(4, T), generator=torch.Generator().manual_seed(5))
    shared = _SharedTape(official, noise, monkeypatch)

    out_official = official(*inputs)
    shared.tape.check_used()
    out_ours = ours(*inputs, noise=noise)
    assert_outputs_equal(out_ours, tuple(o.detach() for o in out_official))

    loss_official = official_loss(*out_official[:5], y)
    loss_ours = han_loss(out_ours[:4], y, HAN_CFG) + mgn_loss_extra(out_ours[4:], y)
    torch.testing.assert_close(loss_ours, loss_official.detach(), atol=1e-5, rtol=0)
    loss_official.backward()
    loss_ours.backward()
    grads_ours = dict(ours.named_parameters())
    for name, p in official.named_parameters():
        assert p.grad is not None, name
        torch.testing.assert_close(grads_ours[name].grad, p.grad, atol=1e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")


# ---------------------------------------------------------------- (b) seed batching
def small_model(seed, uni="soft", cross="soft", **kw):
    torch.manual_seed(seed)
    model = MGN(audio_dim=16, visual_2d_dim=24, visual_3d_dim=12, num_classes=25, unimodal_assign=uni,
                crossmodal_assign=cross, **SMALL, **kw)
    with torch.no_grad():
        model.audio_token.normal_(0, 0.5)
        model.visual_token.normal_(0, 0.5)
    return model


def small_inputs(lead, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, T, 16, generator=g), torch.randn(*lead, T * F, 24, generator=g),
            torch.randn(*lead, T, 12, generator=g))


def full_loss(outputs, y):
    return han_loss(outputs[:4], y, HAN_CFG) + mgn_loss_extra(outputs[4:], y)


@pytest.mark.parametrize("uni,cross,drops", [("soft", "soft", {}),
                                             ("hard", "hard", dict(drop=0.1, attn_drop=0.1))])
def test_seed_batch_training_matches_models_alone(uni, cross, drops):
    s, b = 3, 2
    models = [small_model(seed, uni, cross, **drops) for seed in (11, 12, 13)]
    batch = SeedBatch(models)
    inputs = small_inputs((s, b), seed=1)
    y = labels((s, b, 25), seed=1)
    size = batch.noise_size(b, T)
    assert size == models[0].noise_size(b, T) > 0
    noise = torch.stack([torch.rand(size, generator=torch.Generator().manual_seed(100 + i)) for i in range(s)])

    outputs = batch(*inputs, noise=noise, training=True)
    assert len(outputs) == 6
    losses = torch.vmap(full_loss)(outputs, y)
    losses.sum().backward()

    for i, model in enumerate(models):
        model.train()
        params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
        alone = functional_call(model, params, tuple(x[i] for x in inputs), {"noise": noise[i]})
        for x, z in zip(outputs, alone):
            torch.testing.assert_close(x[i], z, atol=1e-5, rtol=0)
        loss = full_loss(alone, y[i])
        torch.testing.assert_close(losses[i], loss, atol=1e-5, rtol=0)
        grads = torch.autograd.grad(loss, list(params.values()))
        for (name, _), g in zip(params.items(), grads):
            torch.testing.assert_close(batch.params[name].grad[i], g, atol=1e-5, rtol=1e-4,
                                       msg=lambda m: f"seed {i} {name}: {m}")


def test_seed_batch_eval_shared_inputs():
    models = [small_model(seed, "hard", "soft") for seed in (21, 22, 23)]
    batch = SeedBatch(models)
    inputs = small_inputs((4,), seed=2)
    with torch.no_grad():
        outputs = batch(*inputs, shared_inputs=True)
        for i, model in enumerate(models):
            for x, z in zip(outputs, model.eval()(*inputs)):
                torch.testing.assert_close(x[i], z, atol=1e-5, rtol=0)
    # SeedBatch rebuilds a seed from init_kwargs
    rebuilt = batch.model(1)
    with torch.no_grad():
        for x, z in zip(rebuilt(*inputs), models[1](*inputs)):
            torch.testing.assert_close(x, z, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- (c) noise accounting
def test_noise_size_counts():
    b = 2
    # defaults: two stochastic-depth draws per AttnBlock (3 + 3 + 6), Gumbel of GroupingBlock_Han [B,1,10,T]
    assert MGN().noise_size(b, T) == 2 * b * 12 + b * 10 * T
    assert MGN(drop_path=0.0).noise_size(b, T) == b * 10 * T
    # hard assignments: Gumbel in the three groupings instead ([B,1,25,T] twice, [B,1,25,25])
    assert MGN(drop_path=0.0, unimodal_assign="hard", crossmodal_assign="hard").noise_size(b, T) == \
        b * 25 * T * 2 + b * 25 * 25
    assert MGN(drop_path=0.0, train_gumbel=False).noise_size(b, T) == 0
    assert MGN(drop_path=0.0, unimodal_assign="hard", crossmodal_assign="hard", train_gumbel=False).noise_size(b, T) == 0


def test_no_randomness_without_noise_sites():
    model = small_model(0, drop_path=0.0, train_gumbel=False).train()
    assert model.noise_size(2, T) == 0
    inputs = small_inputs((2,))
    torch.manual_seed(0)
    first = model(*inputs)
    torch.manual_seed(1)
    for x, z in zip(first, model(*inputs)):
        assert torch.equal(x, z)


def test_training_randomness_comes_from_the_tape_only():
    model = small_model(0, "hard", "hard", drop=0.1, attn_drop=0.1).train()
    inputs = small_inputs((2,))
    noise = torch.rand(model.noise_size(2, T))
    torch.manual_seed(0)
    first = model(*inputs, noise=noise)
    torch.manual_seed(1)
    second = model(*inputs, noise=noise)
    for x, z in zip(first, second):
        assert torch.equal(x, z)
    other = model(*inputs, noise=torch.rand(model.noise_size(2, T)))
    assert not torch.equal(first[0], other[0])
    model(*inputs)  # noise=None: drawn from the global generator


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_noise_size_raises(delta):
    model = small_model(0).train()
    inputs = small_inputs((2,))
    with pytest.raises(ValueError):
        model(*inputs, noise=torch.rand(model.noise_size(2, T) + delta))


# ---------------------------------------------------------------- (d) the loss
def test_extra_loss_finite_with_gradients():
    model = small_model(0).train()
    out = model(*small_inputs((2,)))
    y = labels((2, 25))
    extra = mgn_loss_extra(out[4:], y)
    assert extra.dim() == 0 and torch.isfinite(extra)
    extra.backward()
    for p in (model.audio_token, model.visual_token, model.fc_cls.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert model.audio_token.grad.abs().sum() > 0 and model.fc_cls.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("uni,cross", [("soft", "soft"), ("hard", "soft")])
def test_official_loss_equals_han_loss_plus_extra(uni, cross):
    official, ours = pair(uni, cross, seed=4)
    official.eval(), ours.eval()
    inputs = official_inputs(3, seed=4)
    y = labels((3, 25), seed=4)
    y[0] = 0.0  # a video without labels, and certain predictions to exercise the clamps
    with torch.no_grad():
        expected = official_loss(*official(*inputs)[:5], y)
        out = ours(*inputs)
    torch.testing.assert_close(full_loss(out, y), expected, atol=1e-5, rtol=0)


def test_frame_probability_is_the_class_probability_at_the_most_attended_second():
    """MGN's frame outputs p_c·(1 + s_tc) lie in [p_c, 2·p_c]; the losses read p_c·s_tc / max_t s_tc
    instead: in [0, 1], its max over seconds p_c (p^a, p^v), and it orders the seconds as the
    frame outputs do. With hard assignment the frame outputs already are probabilities."""
    from vplan_core.models import frame_probabilities

    model = small_model(0).eval()
    out = model(*small_inputs((3,)))
    prob = frame_probabilities(model, out)
    assert out[3].max() > 0 and (out[3] >= torch.stack(out[1:3], 1)[:, None] * (1 - 1e-6)).all()
    assert prob.shape == out[3].shape and prob.min() >= 0 and prob.max() <= 1
    torch.testing.assert_close(prob.amax(dim=1), torch.stack(out[1:3], dim=1))
    assert (prob.argsort(dim=1) == out[3].argsort(dim=1)).float().mean() > 0.99
    hard = small_model(0, uni="hard").eval()
    hard_out = hard(*small_inputs((3,)))
    assert frame_probabilities(hard, hard_out) is hard_out[3]
