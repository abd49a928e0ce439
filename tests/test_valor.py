"""VALOR (vplan_core/models/valor.py) against the official MMIL_Net of Franklin905/VALOR
(tests/official/valor_official.py, a verbatim transcription), and as a member of a seed batch."""
import types

import pytest
import torch
from torch import nn

from tests.official.valor_official import MMIL_Net
from tests.official.valor_official_loss import official_valor_loss
from vplan_core.method.losses import LossConfig, compute_loss
from vplan_core.models import loss_outputs
from vplan_core.models.noise import DropoutTape
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.step import seed_losses
from vplan_core.models.valor import FAMILY, MAP_ROWS, RECIPES, VALOR, map_pooling

T, FRAMES = 10, 8
# The two input paths at their real sizes: (audio rows, audio dim, 2D-visual length, 2D-visual dim).
# VGGish segments and ResNet-152 frames; CLAP feature maps and CLIP segment features (main_avvp.py
# sets input_a_dim and input_v_dim to 768 for them).
PATHS = {"han": (T, 128, T * FRAMES, 2048), "clap_clip": (MAP_ROWS, 768, T, 768)}
OFFICIAL_RECIPES = [("valor", "han"), ("valor_plus", "han"), ("valor_plus_plus", "clap_clip")]

torch.set_num_threads(1)  # small ops: threads only contend


def official_args(recipe: str, path: str, norm_where: str | None = None) -> types.SimpleNamespace:
    r = RECIPES[recipe]
    _, audio_dim, _, visual_dim = PATHS[path]
    return types.SimpleNamespace(hidden_dim=r["hidden_dim"], nhead=r["nhead"], ff_dim=r["ff_dim"],
                                 num_layers=r["num_layers"], norm_where=norm_where or r["norm_where"],
                                 input_a_dim=audio_dim, input_v_dim=visual_dim)


def our_kwargs(recipe: str, path: str, norm_where: str | None = None) -> dict:
    """The recipe's architecture, the path's input sizes (as the trainer gives them)."""
    _, audio_dim, visual_len, visual_dim = PATHS[path]
    return {**RECIPES[recipe], "norm_where": norm_where or RECIPES[recipe]["norm_where"],
            "audio_maps": path == "clap_clip", "audio_dim": audio_dim, "visual_2d_dim": visual_dim,
            "frames_per_segment": visual_len // T}


def inputs(path: str, batch: int, seed: int = 0, lead: tuple = (), dims: tuple | None = None):
    rows, audio_dim, visual_len, visual_dim = PATHS[path]
    audio_dim, visual_dim, visual_3d_dim = dims or (audio_dim, visual_dim, 512)
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, batch, rows, audio_dim, generator=g),
            torch.randn(*lead, batch, visual_len, visual_dim, generator=g),
            torch.randn(*lead, batch, T, visual_3d_dim, generator=g))


def segment_labels(shape, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.2).float()


def pair(recipe: str, path: str, norm_where: str | None = None, seed: int = 0):
    """(official, ours), the official weights (moved off their initialisation, so that zero biases
    and unit norms hide nothing) loaded into ours strictly."""
    torch.manual_seed(seed)
    official = MMIL_Net(official_args(recipe, path, norm_where))
    with torch.no_grad():
        for p in official.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ours = VALOR(**our_kwargs(recipe, path, norm_where))
    result = ours.load_state_dict(official.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return official, ours


def assert_outputs_close(got, expected, atol=1e-5):
    names = ("global_prob", "a_prob", "v_prob", "frame_prob", "frame_logits")
    assert len(got) == len(expected) == len(names)
    for name, x, y in zip(names, got, expected):
        assert x.shape == y.shape, name
        torch.testing.assert_close(x, y, atol=atol, rtol=0, msg=lambda m: f"{name}: {m}")


def our_loss(model, outputs, video_labels, audio_labels, visual_labels):
    """The trainer's VALOR loss of one model's outputs: the row's loss kind on what the model
    gives the losses (models.loss_outputs: its frame logits included)."""
    return compute_loss(loss_outputs(model, outputs), video_labels, visual_labels, LossConfig("valor"), audio_labels)


# ---------------------------------------------------------------- (a) equivalence in eval mode
@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("path", list(PATHS))
def test_eval_outputs_equal_official(recipe, path):
    official, ours = pair(recipe, path)
    official.eval(), ours.eval()
    x = inputs(path, 2)
    with torch.no_grad():
        out = ours(*x)
        assert_outputs_close(out, official(*x))
    assert out[3].shape == (2, T, 2, 25)
    torch.testing.assert_close(torch.sigmoid(out[4]), out[3], atol=0, rtol=0)


@pytest.mark.parametrize("path", list(PATHS))
def test_eval_outputs_equal_official_pre_norm(path):
    """pre_norm: the query normalised before the attentions, the final norms after the encoder."""
    official, ours = pair("valor_plus", path, "pre_norm", seed=1)
    official.eval(), ours.eval()
    x = inputs(path, 2, seed=1)
    with torch.no_grad():
        assert_outputs_close(ours(*x), official(*x))
        post = VALOR(**our_kwargs("valor_plus", path))
        post.load_state_dict(official.state_dict())
        assert not torch.allclose(post.eval()(*x)[0], ours(*x)[0], atol=1e-3)


@pytest.mark.parametrize("recipe,path", OFFICIAL_RECIPES)
def test_same_seed_gives_the_official_initial_weights(recipe, path):
    """Built in the official order: the same keys in the same order, the same tensors; the
    encoder's layers start equal (deep copies of one layer, as the official _get_clones)."""
    torch.manual_seed(5)
    official = MMIL_Net(official_args(recipe, path))
    torch.manual_seed(5)
    ours = VALOR(**our_kwargs(recipe, path))
    sd_official, sd_ours = official.state_dict(), ours.state_dict()
    assert list(sd_ours) == list(sd_official)
    for key in sd_official:
        assert torch.equal(sd_ours[key], sd_official[key]), key
    layers = ours.hat_encoder.layers
    assert torch.equal(layers[0].linear1.weight, layers[-1].linear1.weight)


def test_defaults_are_main_avvp_defaults_and_the_valor_recipe():
    """main_avvp.py's argparse defaults (VGGish 128, ResNet-152 2048, hidden 512, 8 heads, ff 1024,
    1 layer, post_norm) and HANLayer's dropout 0.1."""
    kw = VALOR().init_kwargs
    assert (kw["audio_dim"], kw["visual_2d_dim"], kw["visual_3d_dim"], kw["num_classes"]) == (128, 2048, 512, 25)
    assert {k: kw[k] for k in RECIPES["valor"]} == RECIPES["valor"]
    assert kw["dropout"] == 0.1 and not kw["audio_maps"]
    assert FAMILY.model_class is VALOR and FAMILY.extra_loss is None and FAMILY.frame_means


def test_map_pooling_is_an_average_per_segment():
    """The premise of applying it before fc_a (affine): each segment's weights sum to 1."""
    weights = map_pooling(T, torch.device("cpu"), torch.float64)
    assert weights.shape == (T, MAP_ROWS)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(T, dtype=torch.float64), atol=1e-12, rtol=0)
    assert map_pooling(T, torch.device("cpu"), torch.float64) is weights


# ---------------------------------------------------------------- (b) training mode, same dropout masks
class _SequenceFirstDropout(nn.Module):
    """Stands in for an nn.Dropout of the official HANLayer, whose activations are sequence first
    ([T, B, d]): reads the tape batch first, as the port does."""

    def __init__(self, tape: DropoutTape, p: float):
        super().__init__()
        self.tape, self.p = tape, p

    def forward(self, x):
        return self.tape(x.transpose(0, 1), self.p).transpose(0, 1)


def drive_official_dropout(official: nn.Module, noise: torch.Tensor, monkeypatch) -> DropoutTape:
    """The official module's dropout read from a tape in its own call order: its nn.Dropout
    modules, and nn.MultiheadAttention's dropout of the attention weights (torch.nn.functional's
    dropout, on [B*h, T_q, T_kv]: batch major, as the port's [B, h, T_q, T_kv])."""
    tape = DropoutTape(noise, 0.1)
    for module in list(official.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(module, name, _SequenceFirstDropout(tape, child.p))

    def attention_dropout(input, p=0.5, training=True, inplace=False):
        assert training and not inplace
        return tape(input, p)

    monkeypatch.setattr(torch.nn.functional, "dropout", attention_dropout)
    return tape


# float64 for every case: the masks and the math are the same to rounding (1e-13); in float32
# the rounding, amplified through VALOR+'s 4 pre-norm layers in training, reaches 3e-5 on the
# frame logits, so float32 is checked (at 1e-5) on the published, post-norm recipes.
TRAIN_CASES = [("valor", "han", "post_norm", torch.float32),
               ("valor_plus_plus", "clap_clip", "post_norm", torch.float32),
               ("valor", "han", "post_norm", torch.float64),
               ("valor_plus_plus", "clap_clip", "post_norm", torch.float64),
               ("valor_plus", "han", "pre_norm", torch.float64),
               ("valor_plus_plus", "clap_clip", "pre_norm", torch.float64)]


@pytest.mark.parametrize("recipe,path,norm_where,dtype", TRAIN_CASES,
                         ids=["-".join(map(str, case)).replace("torch.", "") for case in TRAIN_CASES])
def test_train_outputs_and_gradients_equal_official_with_shared_noise(recipe, path, norm_where, dtype, monkeypatch):
    """Training mode with the same dropout masks: outputs, the official loss and every parameter's
    gradient agree; noise_size counts every official dropout site (the tape is used up)."""
    atol, rtol = (1e-5, 1e-4) if dtype == torch.float32 else (1e-10, 1e-8)
    official, ours = pair(recipe, path, norm_where, seed=2)
    official.to(dtype).train(), ours.to(dtype).train()
    b = 2
    x = tuple(t.to(dtype) for t in inputs(path, b, seed=2))
    y = tuple(t.to(dtype) for t in (segment_labels((b, 25), seed=2), segment_labels((b, T, 25), seed=3),
                                    segment_labels((b, T, 25), seed=4)))
    noise = torch.rand(ours.noise_size(b, T), generator=torch.Generator().manual_seed(5), dtype=dtype)
    tape = drive_official_dropout(official, noise, monkeypatch)

    out_official = official(*x)
    tape.check_used()
    out_ours = ours(*x, noise=noise)
    assert_outputs_close(out_ours, tuple(o.detach() for o in out_official), atol=atol)
    with torch.no_grad():
        assert not torch.allclose(ours.eval()(*x)[3], out_ours[3], atol=1e-3)

    loss_official, loss_ours = official_valor_loss(out_official, *y), our_loss(ours, out_ours, *y)
    torch.testing.assert_close(loss_ours, loss_official.detach(), atol=atol, rtol=0)
    loss_official.backward()
    loss_ours.backward()
    grads_ours = dict(ours.named_parameters())
    for name, p in official.named_parameters():
        if p.grad is None:  # the final norms in post_norm, as in ours
            assert grads_ours[name].grad is None, name
            continue
        torch.testing.assert_close(grads_ours[name].grad, p.grad, atol=atol, rtol=rtol, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("recipe,path", [("valor", "han"), ("valor_plus_plus", "clap_clip")])
def test_loss_gradients_equal_official_at_saturated_logits(recipe, path):
    """fc_prob scaled so that the frame logits reach |30|, and the segment labels wrong wherever
    |logit| > 16 (confident mistakes): the trainer's loss (seed_losses, as a step calls it) equals
    main_avvp.py's in value and in every parameter's gradient. A loss on the sigmoid clamped to
    [1e-7, 1 - 1e-7] gives those elements no gradient, so fc_prob's would differ."""
    official, ours = pair(recipe, path, seed=4)
    official.eval(), ours.eval()
    x = inputs(path, 2, seed=4)
    with torch.no_grad():
        scale = 30.0 / official(*x)[4].abs().max()
        official.fc_prob.weight.mul_(scale), official.fc_prob.bias.mul_(scale)
        ours.load_state_dict(official.state_dict())
        logits = official(*x)[4]
    saturated = logits.abs() > 16
    assert 20 < saturated.sum() and logits.abs().max() <= 30.001
    random_labels = segment_labels(logits.shape, seed=5)
    audio, visual = torch.where(saturated, (logits < 0).float(), random_labels).unbind(dim=2)
    video = segment_labels((2, 25), seed=6)

    official_valor_loss(official(*x), video, audio, visual).backward()
    loss = seed_losses(tuple(o[None] for o in ours(*x)), video[None], visual[None], LossConfig("valor"), None,
                       audio[None], ours)
    loss.sum().backward()
    grads_ours = dict(ours.named_parameters())
    for name, p in official.named_parameters():
        if p.grad is None:  # the final norms in post_norm, as in ours
            assert grads_ours[name].grad is None, name
            continue
        torch.testing.assert_close(grads_ours[name].grad, p.grad, atol=1e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")


# ---------------------------------------------------------------- (c) seed batching
SMALL = dict(hidden_dim=32, nhead=4, ff_dim=48, num_layers=2)
SMALL_DIMS = (16, 24, 12)  # audio, 2D visual, 3D visual


def small_model(seed: int, path: str, **kwargs) -> VALOR:
    torch.manual_seed(seed)
    audio_dim, visual_dim, visual_3d_dim = SMALL_DIMS
    return VALOR(audio_dim=audio_dim, visual_2d_dim=visual_dim, visual_3d_dim=visual_3d_dim,
                 frames_per_segment=PATHS[path][2] // T, audio_maps=path == "clap_clip", **{**SMALL, **kwargs})


@pytest.mark.parametrize("path,norm_where", [("han", "post_norm"), ("clap_clip", "pre_norm")])
def test_seed_batch_training_a_seed_alone_equals_it_beside_others(path, norm_where):
    """Through SeedBatch, one seed alone (S = 1) and the same seed beside two others give the same
    outputs, loss and gradients, from the same inputs and noise."""
    seeds, b = (11, 12, 13), 2
    batch = SeedBatch([small_model(s, path, norm_where=norm_where) for s in seeds])
    x = inputs(path, b, seed=1, lead=(len(seeds),), dims=SMALL_DIMS)
    y = (segment_labels((len(seeds), b, 25), seed=1), segment_labels((len(seeds), b, T, 25), seed=2),
         segment_labels((len(seeds), b, T, 25), seed=3))
    size = batch.noise_size(b, T)
    assert size == small_model(0, path).noise_size(b, T) > 0
    noise = torch.stack([torch.rand(size, generator=torch.Generator().manual_seed(100 + i)) for i in range(len(seeds))])

    outputs = batch(*x, noise=noise, training=True)
    assert len(outputs) == 5 and outputs[4].shape == (len(seeds), b, T, 2, 25)
    video, audio, visual = y
    seed_losses(outputs, video, visual, LossConfig("valor"), None, audio, batch.base).sum().backward()

    i = 1
    alone = SeedBatch([small_model(seeds[i], path, norm_where=norm_where)])
    out_alone = alone(*(t[i:i + 1] for t in x), noise=noise[i:i + 1], training=True)
    assert_outputs_close(tuple(o[i] for o in outputs), tuple(o[0] for o in out_alone))
    video, audio, visual = (t[i:i + 1] for t in y)
    seed_losses(out_alone, video, visual, LossConfig("valor"), None, audio, alone.base).sum().backward()
    for name, p in alone.params.items():
        if p.grad is None:  # the final norms in post_norm
            assert batch.params[name].grad is None, name
            continue
        torch.testing.assert_close(batch.params[name].grad[i], p.grad[0], atol=1e-5, rtol=1e-4, msg=name)


def test_seed_batch_eval_shared_inputs():
    models = [small_model(s, "clap_clip") for s in (21, 22)]
    batch = SeedBatch(models)
    x = inputs("clap_clip", 3, seed=2, dims=SMALL_DIMS)
    with torch.no_grad():
        outputs = batch(*x, shared_inputs=True)
        for i, model in enumerate(models):
            assert_outputs_close(tuple(o[i] for o in outputs), model.eval()(*x))
        # SeedBatch rebuilds a seed from init_kwargs and loads its slice strictly
        assert_outputs_close(batch.model(1)(*x), models[1](*x), atol=1e-6)


# ---------------------------------------------------------------- (d) noise and inputs
def test_noise_size_counts_every_dropout_site():
    b, h, d, ff = 2, 8, 512, 1024
    per_call = b * (h * T * 2 * T + T * (3 * d + ff))  # two attention maps, dropout11/12/2, dropout
    assert VALOR().noise_size(b, T) == 2 * per_call  # one layer, audio then visual
    assert VALOR(num_layers=4).noise_size(b, T) == 8 * per_call
    assert VALOR(dropout=0.0).noise_size(b, T) == 0


def test_no_dropout_means_train_equals_eval():
    model = small_model(0, "han", dropout=0.0).train()
    x = inputs("han", 2, dims=SMALL_DIMS)
    train_out = model(*x)
    with torch.no_grad():
        assert_outputs_close(train_out, model.eval()(*x), atol=0)


def test_training_randomness_comes_from_the_tape_only():
    model = small_model(0, "clap_clip").train()
    x = inputs("clap_clip", 2, dims=SMALL_DIMS)
    noise = torch.rand(model.noise_size(2, T))
    torch.manual_seed(0)
    first = model(*x, noise=noise)
    torch.manual_seed(1)
    for a, b in zip(first, model(*x, noise=noise)):
        assert torch.equal(a, b)
    assert not torch.equal(first[0], model(*x, noise=torch.rand(model.noise_size(2, T)))[0])
    model(*x)  # noise=None: drawn from the global generator


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_noise_size_raises(delta):
    model = small_model(0, "han").train()
    x = inputs("han", 2, dims=SMALL_DIMS)
    with pytest.raises(ValueError):
        model(*x, noise=torch.rand(model.noise_size(2, T) + delta))


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError):
        VALOR(norm_where="sandwich")
    model = small_model(0, "clap_clip").eval()
    audio, visual_2d, visual_3d = inputs("clap_clip", 2, dims=SMALL_DIMS)
    with pytest.raises(ValueError):
        model(audio[:, :T], visual_2d, visual_3d)  # segments where maps are expected
