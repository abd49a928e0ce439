"""VALOR's training recipe (issue 29): AdamW, warm-up + cosine by epoch, gradient clipping, each
as the official main_avvp.py does it and per seed when seeds are batched; configs that set none
of it train exactly as before."""
from __future__ import annotations

import copy
import math
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml

from tests import test_resume
from tests.test_training import data, numbers, run, tiny  # noqa: F401 (data: a fixture)
from tests.workflow_runs import REPO
from vplan_core.config import ConfigError, apply_command_line, validate_config
from vplan_core.models import FAMILIES
from vplan_core.models.han import HAN
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.plan import train_settings
from vplan_core.training.prediction import predict
from vplan_core.training.schedule import WarmupCosineLR
from vplan_core.training.step import clip_seed_gradients, new_optimizer
from vplan_core.training.trainer import TrainConfig

RECIPE_KEYS = {"optimizer", "weight_decay", "betas", "eps", "schedule", "warmup_epochs", "min_lr", "grad_clip"}
# scripts/train_valor.sh (VALOR++: lr 3e-4, lr_min 3e-6)
VALOR = dict(optimizer="adamw", weight_decay=1e-3, betas=(0.5, 0.999), eps=1e-8, schedule="warmup_cosine",
             warmup_epochs=10, min_lr=1e-6, grad_clip=1.0, lr=1e-4, epochs=60, batch_size=64)


def lr_warm_up_cos_anneal(optimizer, cur_epoch, warm_up_epoch, max_epoch, lr_min, lr_max):
    """Franklin905/VALOR main_avvp.py, verbatim; called with epoch = 1..epochs before each epoch."""
    if cur_epoch < warm_up_epoch:
        lr = cur_epoch / warm_up_epoch * lr_max
    else:
        lr = (lr_min + 0.5*(lr_max-lr_min)*(1.0+math.cos((cur_epoch-warm_up_epoch)/(max_epoch-warm_up_epoch)*math.pi)))

    for param_group in optimizer.param_groups:
        param_group['lr'] = lr


@pytest.mark.parametrize("lr, min_lr", [(1e-4, 1e-6), (3e-4, 3e-6)], ids=["valor", "valor++"])
def test_warmup_cosine_gives_valors_lr_every_epoch(lr, min_lr):
    ours = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=lr)
    official = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=lr)
    schedule = WarmupCosineLR(ours, warmup_epochs=10, epochs=60, min_lr=min_lr)
    lrs = []
    for epoch in range(1, 61):
        lr_warm_up_cos_anneal(official, epoch, 10, 60, min_lr, lr)
        assert ours.param_groups[0]["lr"] == official.param_groups[0]["lr"], epoch
        lrs.append(ours.param_groups[0]["lr"])
        ours.step()
        schedule.step()
    assert lrs[0] == pytest.approx(lr / 10) and lrs[9] == lr and lrs[-1] == pytest.approx(min_lr)


def test_the_trainer_sets_the_schedules_lr_before_each_epoch(data):
    config = tiny(epochs=4, schedule="warmup_cosine", warmup_epochs=2, min_lr=1e-5)
    (result,) = run(config, data)
    official = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    expected = []
    for epoch in range(1, 5):
        lr_warm_up_cos_anneal(official, epoch, 2, 4, 1e-5, config.lr)
        expected.append(official.param_groups[0]["lr"])
    assert [h["lr"] for h in result.history] == expected


def one_seed_batch() -> tuple[HAN, SeedBatch]:
    torch.manual_seed(0)
    model = HAN(audio_dim=8, visual_2d_dim=8, visual_3d_dim=8, d_model=16)
    return model, SeedBatch([copy.deepcopy(model)])


def test_a_seeds_clipping_and_adamw_are_valors_on_its_model():
    """One seed of the batch steps as VALOR's loop steps its model: clip_grad_norm_ over all
    parameters, then torch's AdamW with VALOR's settings (the same gradients, clipped at most
    steps)."""
    model, batch = one_seed_batch()
    config = TrainConfig(**VALOR)
    official = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-3, betas=(0.5, 0.999), eps=1e-8)
    ours = new_optimizer(batch, config)
    assert type(ours) is torch.optim.AdamW
    names = [name for name, _ in model.named_parameters()]
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        for name, param in model.named_parameters():
            param.grad = torch.randn(param.shape, generator=generator) * 0.1
            batch.params[name].grad = param.grad[None].clone()
        nn_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        assert nn_norm > 1.0  # clipping at work
        clip_seed_gradients(batch.params.values(), 1.0)
        official.step()
        ours.step()
    for name in names:
        torch.testing.assert_close(batch.params[name][0], dict(model.named_parameters())[name], atol=1e-7, rtol=1e-6)


def test_default_optimizer_is_todays_adam():
    """The settings the trainer built its Adam with before the recipe keys (CPU, eager)."""
    model, batch = one_seed_batch()
    ours = new_optimizer(batch, TrainConfig(lr=1e-3))
    assert type(ours) is torch.optim.Adam
    assert ours.defaults == torch.optim.Adam(model.parameters(), lr=1e-3, fused=False, capturable=False).defaults


def test_each_seed_is_clipped_by_its_own_norm():
    """Seed 0's gradients are large and clipped as clip_grad_norm_ clips them alone; seed 1's
    are under the norm and stay as they are (the batch's norm would have shrunk them)."""
    generator = torch.Generator().manual_seed(0)
    shapes = [(3, 4), (5,), (2, 2, 2), ()]
    grads = [torch.randn((2, *s), generator=generator) for s in shapes]
    for g in grads:
        g[0] *= 10.0
        g[1] *= 0.01
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    clip_seed_gradients(params, 1.0)
    alone = [torch.zeros_like(g[0], requires_grad=True) for g in grads]
    for p, g in zip(alone, grads):
        p.grad = g[0].clone()
    assert torch.nn.utils.clip_grad_norm_(alone, 1.0) > 1.0
    for p, a, g in zip(params, alone, grads):
        torch.testing.assert_close(p.grad[0], a.grad, atol=1e-7, rtol=1e-6)
        assert torch.equal(p.grad[1], g[1])


def test_a_seed_trains_alike_alone_and_batched_with_valors_recipe(data):
    """Clipping active at every step (a small max norm, each seed's gradients of another norm):
    each seed of a 2-seed batch ends where it ends alone (CPU, 1e-6)."""
    config = tiny(**{**VALOR, "lr": 1e-3, "epochs": 2, "batch_size": 16, "warmup_epochs": 1, "grad_clip": 0.05},
                  seeds=(0, 1), dropout=0.1)
    batched = run(config, data)
    for seed, together in zip(config.seeds, batched):
        (alone,) = run(replace(config, seeds=(seed,)), data)
        assert numbers(together.history) == pytest.approx(numbers(alone.history), abs=1e-6, rel=1e-6)
        for name, value in alone.model.state_dict().items():
            torch.testing.assert_close(together.model.state_dict()[name], value, atol=1e-6, rtol=0)
    unclipped = run(replace(config, grad_clip=None), data)
    assert numbers(unclipped[0].history) != pytest.approx(numbers(batched[0].history), abs=1e-6)


def test_resume_with_valors_recipe_equals_the_uninterrupted_run(tmp_path):
    """The schedule's and AdamW's state resume (bitwise, CPU); under warmup_cosine, whose cosine
    ends at the last epoch, a state of other epochs is not trusted."""
    data = test_resume.resume_data()
    recipe = {**VALOR, "epochs": 4, "lr": 1e-3, "warmup_epochs": 2, "min_lr": 1e-5, "batch_size": 64}
    config = test_resume.config(**recipe)
    uninterrupted = test_resume.run(config, data)
    state = tmp_path / "resume.pt"
    with pytest.raises(test_resume.Stop):
        test_resume.run(config, data, resume_path=state, log=test_resume.stop_after(2))
    lines = []
    resumed = test_resume.run(config, data, resume_path=state, log=lines.append)
    assert lines[2] == f"resuming after epoch 2 from {state}"
    test_resume.assert_same_result(resumed, uninterrupted, data[1].features)
    lines.clear()
    test_resume.run(replace(config, epochs=5), data, resume_path=state, log=lines.append)
    assert "saved for other settings or data; training from epoch 1" in lines[0]


def without_recipe(config: dict) -> dict:
    config = copy.deepcopy(config)
    for section in (config["train"], *config.get("models", {}).values()):
        for key in RECIPE_KEYS:
            section.pop(key, None)
    return config


@pytest.mark.parametrize("name", ["config.yaml", "config/llp.yaml"])
def test_a_config_without_the_recipe_keys_keeps_its_settings(name):
    """Only keys a config sets reach a job's settings: a family that sets none of the new keys
    has the params it had (Snakemake reruns nothing) and trains with Adam, StepLR, no clipping."""
    config = yaml.safe_load((REPO / name).read_text())
    stripped = without_recipe(config)
    for model in FAMILIES:
        settings = train_settings(stripped, "plg_rl", model)
        assert not RECIPE_KEYS & set(settings)
        trained = TrainConfig(**settings)
        assert (trained.optimizer, trained.weight_decay, trained.betas, trained.eps, trained.schedule,
                trained.grad_clip) == ("adam", 0.0, (0.9, 0.999), 1e-8, "step", None)
        if not RECIPE_KEYS & (set(config["train"]) | set(config.get("models", {}).get(model, {}))):
            assert train_settings(config, "plg_rl", model) == settings
    stripped["train"]["grad_clip"] = 1.0
    stripped["models"]["mgn"].update(optimizer="adamw", betas=[0.5, 0.999])
    assert train_settings(stripped, "plg_rl", "han")["grad_clip"] == 1.0 and "optimizer" not in train_settings(
        stripped, "plg_rl", "han")
    mgn = TrainConfig(**train_settings(stripped, "plg_rl", "mgn"))
    assert (mgn.optimizer, mgn.betas, mgn.grad_clip) == ("adamw", (0.5, 0.999), 1.0)


def demo_with(section: str, **values) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    node = config
    for key in section.split("."):
        node = node.setdefault(key, {})
    node.update(values)
    return config


YAML_RECIPE = dict(optimizer="adamw", weight_decay=1.0e-3, betas=[0.5, 0.999], eps=1.0e-8,
                   schedule="warmup_cosine", warmup_epochs=10, min_lr=1.0e-6, grad_clip=1.0)


@pytest.mark.parametrize("section", ["train", "models.mgn"])
def test_schema_takes_the_recipe_in_train_and_a_family(section):
    validate_config(demo_with(section, **YAML_RECIPE))


@pytest.mark.parametrize("key, value, expected", [
    ("optimizer", "sgd", "'sgd' is not one of ['adam', 'adamw']"),
    ("schedule", "cosine", "'cosine' is not one of ['step', 'warmup_cosine']"),
    ("betas", [0.5], "is too short"),
    ("betas", [0.5, 1.0], "is out of range"),
    ("weight_decay", -1.0e-3, "is out of range"),
    ("eps", 0.0, "is out of range"),
    ("warmup_epochs", -1, "is out of range"),
    ("min_lr", "1e-6", "is a string"),
    ("grad_clip", 0.0, "is out of range"),
])
@pytest.mark.parametrize("section", ["train", "models.mgn"])
def test_schema_rejects_a_wrong_recipe_value(section, key, value, expected):
    with pytest.raises(ConfigError, match=rf"config key '{re.escape(section)}\.{key}(\.1)?': .*{re.escape(expected)}"):
        validate_config(demo_with(section, **{key: value}))


def test_command_line_recipe_values_get_their_types():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    overrides = {"train": {"betas": ["0.5", "0.999"], "grad_clip": "1.0", "warmup_epochs": "10", "min_lr": "1e-6"}}
    config["train"].update(overrides["train"])
    validate_config(config, command_line=apply_command_line(config, overrides))
    assert {k: config["train"][k] for k in overrides["train"]} == {"betas": [0.5, 0.999], "grad_clip": 1.0,
                                                                  "warmup_epochs": 10, "min_lr": 1e-6}


@pytest.mark.parametrize("settings, expected", [
    ({"optimizer": "sgd"}, "optimizer 'sgd' is not one of"),
    ({"schedule": "cosine"}, "schedule 'cosine' is not one of"),
    ({"betas": (0.5,)}, r"betas \[0.5\] must be two numbers"),
    ({"eps": 0.0}, "eps 0.0 must be positive"),
    ({"weight_decay": -1.0}, "weight_decay -1.0 is negative"),
    ({"grad_clip": 0.0}, "grad_clip 0.0 must be positive"),
    ({"schedule": "warmup_cosine", "warmup_epochs": 30}, r"warmup_epochs 30 must be in \[0, epochs 30\)"),
    ({"schedule": "warmup_cosine", "min_lr": 1.0}, r"min_lr 1.0 must be in \[0, lr"),
])
def test_train_config_names_a_wrong_recipe_setting(settings, expected):
    with pytest.raises(ValueError, match=expected):
        TrainConfig(**settings)
    TrainConfig(**VALOR)  # and takes VALOR's


@pytest.mark.slow
def test_compiled_step_with_valors_recipe_trains_like_the_eager_one(data):
    """AdamW, clipping and the warm-up's tensor lr inside the compiled step (HAN, S = 2; the
    partial last batch eager): the same lrs and, up to float reordering, the same results."""
    config = tiny(**{**VALOR, "epochs": 3, "lr": 1e-3, "batch_size": 24, "warmup_epochs": 2, "min_lr": 1e-5,
                     "grad_clip": 0.05}, seeds=(0, 1), dropout=0.1)
    eager = run(config, data)
    compiled = run(replace(config, compile=True), data)
    for e, c in zip(eager, compiled, strict=True):
        assert [h["lr"] for h in c.history] == pytest.approx([h["lr"] for h in e.history], rel=1e-6)
        assert numbers(c.history) == pytest.approx(numbers(e.history), abs=1e-4, rel=1e-4)
        for key, value in predict(e.model, data[3]).items():
            np.testing.assert_allclose(predict(c.model, data[3])[key], value, atol=1e-4, rtol=0)
