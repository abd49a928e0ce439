"""Pretrain the demo's backbones inside the demo world, as ImageNet, Kinetics and AudioSet
pretrain the backbones of real LLP features.

Real LLP features come from backbones that learned to see and hear on other data than LLP:
ResNet-152 on ImageNet photos, R(2+1)D-18 on Kinetics clips, VGGish on AudioSet sounds. The
demo world has its own versions of those data sets, never demo clips (whose objects, sounds and
labels the pipeline must not see before training):
- cnn2d (torchvision ResNet, resnet18 in the demo): single-object images
  (render.render_object_image, with the same small / occluded / dark / blurred conditions as
  photos have), rendered at 144 px like the centre crop of a demo frame and resized to `size`
  exactly as the extractor resizes frames (frames.resize_crop);
- r2plus1d (torchvision r2plus1d_18): short clips of one moving object over clutter,
  clip_len frames at 8 fps, the same conditions, resized to `size` per frame; in the demo it
  starts from the pretrained 2D CNN (inflate_from, inflation.py) and its stem is distilled;
- vggish (features.vggish.VGGish, torchvggish's parameter names): 0.96 s examples of one
  class's synthetic sound (sound.class_sound) at a random level over background noise, some
  starting or ending inside the example, through the reference log-mel front end.
The task is classification into the 25 classes plus "nothing" (clutter only, noise only),
1/26 of the examples each. Each data set draws from its own random stream (seeded by the
config's seed and a per-backbone constant), apart from the demo clips' streams.

Training starts from the seeded initialisation of "random:<seed>" (so pretrained and random
features differ by the pretraining alone) and is AdamW with warm-up and cosine decay. What
keeps it affordable on two CPU cores (the 2D CNN gets the most: the demo's table follows how
well it sees, docs/results.md "Demo results"), and still working:
- inflation: R(2+1)D-18 trained from its seeded weights (layer4 only: a full step on 32 clips of
  8 x 32 x 32 takes 5.1 s here) reached 20 % holdout accuracy; inflated from the 2D CNN, with
  only its stem trained, 66 % in a third of the time;
- train_from: stages before it keep their seeded weights; their outputs are computed once and
  training runs through the rest;
- VGGish has no normalisation layers and its seeded embeddings have a standard deviation of
  about 0.006, from which a short training learns nearly nothing: its trained layers are first
  rescaled to unit output variance on a training batch (LSUV, a data-dependent initialisation);
- BatchNorm running statistics (torchvision's nets) are recomputed on training examples after
  training: a few dozen steps at momentum 0.1 leave them far from the real statistics, and
  extraction runs in eval mode.

What is saved is exactly what the extractors load (weights.apply_weights, strictly): the full
torchvision state dict, fc included with its published shape (1000 ImageNet or 400 Kinetics
logits; training runs through the first 26 of them, the others get no gradient, only AdamW's
weight decay; extraction drops fc anyway),
and torchvggish's VGGish state dict (the 26-way head used in training sits on the 128-d
embedding and is not saved).
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from vplan_core import atomic
from vplan_core.demo.render import (
    MAX_ANGLE,
    OBJECT_SCALE,
    apply_frame_effects,
    clutter,
    draw_frame_effects,
    draw_occluder,
    draw_scale,
    object_sprite,
    occluder_sprite,
    paste,
    render_object_image,
)
from vplan_core.demo.sound import EVENT_RMS, NOISE_RMS, class_sound
from vplan_core.features import cnn, vggish
from vplan_core.feature_registry import CNN_PUBLISHED, DEMO_BACKBONES
from vplan_core.features.weights import apply_weights, init_random
from vplan_core.demo.inflation import inflate_resnet18
from vplan_core.data.description import LLP

CLASSES = LLP.classes  # the demo world is a miniature LLP
from vplan_core.data.frames import resize_crop_array

NOTHING = len(CLASSES)  # label of "no object" / "no class sound"
N_OUTPUTS = NOTHING + 1
RENDER_SIZE = 144  # images and clips are drawn like the centre crop of a 144 px high frame
CLIP_FPS = 8  # the extractor's frame rate (sampling.fps)
MAX_SPEED = 0.3  # frame heights a second, a walking pace as in scenarios.MOVE_SPEED
RECALIBRATION_EXAMPLES = 256  # training examples that set BatchNorm's running statistics
PARTIAL_SOUND_P = 0.25  # share of sound examples whose sound starts or ends inside them
# per-backbone stream constants: the data of one backbone never repeats another's
_STREAM = {"cnn2d": 11, "r2plus1d": 12, "vggish": 13}


# ---------------------------------------------------------------- in-world data
def _labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """n labels over the 25 classes and "nothing", balanced, shuffled."""
    return rng.permutation(np.arange(n) % N_OUTPUTS).astype(np.int64)


def object_images(n: int, rng: np.random.Generator, size: int, conditions: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [n, size, size, 3], labels [n]): one object (or none) over clutter per image."""
    labels = _labels(n, rng)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, c in enumerate(labels):
        img = render_object_image(None if c == NOTHING else int(c), rng, RENDER_SIZE, conditions)
        images[i] = resize_crop_array(img, size)
    return images, labels


def object_clip(class_index: int | None, rng: np.random.Generator, size: int,
                clip_len: int = 8, conditions: bool = True) -> np.ndarray:
    """uint8 [clip_len, size, size, 3]: one object moving over clutter for clip_len / 8 s.

    The object moves in a random direction at up to MAX_SPEED and may run partly out of the
    image; size, occlusion, low light and blur follow render.CONDITIONS.
    """
    s = RENDER_SIZE
    background = clutter(rng, s, s)
    effects = draw_frame_effects(rng) if conditions else None
    frames = np.empty((clip_len, size, size, 3), dtype=np.uint8)
    sprite = occluder = None
    if class_index is not None:
        radius = (draw_scale(rng) if conditions else rng.uniform(*OBJECT_SCALE)) * s
        sprite = object_sprite(class_index, radius, rng.uniform(-MAX_ANGLE, MAX_ANGLE))
        occ = draw_occluder(rng) if conditions else None
        occluder = occluder_sprite(radius, occ) if occ else None
        start = rng.uniform(radius, s - radius, 2)
        heading = rng.uniform(0, 2 * math.pi)
        velocity = rng.uniform(0, MAX_SPEED) * s * np.array([math.cos(heading), math.sin(heading)])
    for k in range(clip_len):
        frame = background.copy()
        if sprite is not None:
            cx, cy = start + velocity * (k + 0.5) / CLIP_FPS
            paste(frame, sprite, cx, cy)
            if occluder is not None:
                paste(frame, occluder[:2], cx + occluder[2], cy)
        frames[k] = resize_crop_array(apply_frame_effects(frame, effects), size)
    return frames


def object_clips(n: int, rng: np.random.Generator, size: int, clip_len: int = 8,
                 conditions: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [n, clip_len, size, size, 3], labels [n])."""
    labels = _labels(n, rng)
    clips = np.stack([object_clip(None if c == NOTHING else int(c), rng, size, clip_len, conditions)
                      for c in labels])
    return clips, labels


def sound_example(class_index: int | None, rng: np.random.Generator) -> np.ndarray:
    """float32 [1, 96, 64]: one 0.96 s log-mel example of a class's sound (None: noise only).

    Levels and background noise are those of the demo soundtracks (sound.render_audio).
    """
    n = (vggish.EXAMPLE_FRAMES - 1) * int(vggish.SAMPLE_RATE * vggish.HOP_S) \
        + int(vggish.SAMPLE_RATE * vggish.WINDOW_S)
    wave = NOISE_RMS * rng.standard_normal(n)
    if class_index is not None:
        a, b = 0, n
        if rng.random() < PARTIAL_SOUND_P:  # the sound starts or ends inside the example
            cut = int(rng.uniform(0.0, 0.6) * n)
            a, b = (cut, n) if rng.random() < 0.5 else (0, n - cut)
        gain = EVENT_RMS * rng.uniform(0.6, 1.0)
        wave[a:b] += gain * class_sound(class_index, b - a, vggish.SAMPLE_RATE, rng)
    return vggish.waveform_to_examples(np.clip(wave, -1, 1), vggish.SAMPLE_RATE, 1).numpy()[0]


def sound_examples(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [n, 1, 96, 64], labels [n])."""
    labels = _labels(n, rng)
    examples = np.stack([sound_example(None if c == NOTHING else int(c), rng) for c in labels])
    return examples, labels


def _examples(backbone: str, n: int, rng: np.random.Generator, size: int,
              clip_len: int) -> tuple[np.ndarray, np.ndarray]:
    """n labelled in-world examples of the kind `backbone` reads: images, clips or sounds."""
    if backbone == "cnn2d":
        return object_images(n, rng, size)
    if backbone == "r2plus1d":
        return object_clips(n, rng, size, clip_len)
    return sound_examples(n, rng)


# ---------------------------------------------------------------- models
class _Stage(nn.Module):
    """One stage of a backbone's forward pass: modules applied in order, then `after`."""

    def __init__(self, *modules: nn.Module, after: Callable[[torch.Tensor], torch.Tensor] | None = None):
        super().__init__()
        self.body = nn.Sequential(*modules)
        self.after = after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(x)
        return self.after(x) if self.after is not None else x


def _stages(backbone: str, model: nn.Module) -> list[tuple[str, _Stage]]:
    """(name, stage) in forward order; the last stage, "head", gives the 26 training logits
    (the first 26 of torchvision's fc, or the separate head on VGGish's 128-d embedding)."""
    if backbone == "vggish":
        return [("features", _Stage(model.features,  # channels last, as VGGish.forward
                                    after=lambda x: x.permute(0, 2, 3, 1).contiguous().flatten(1))),
                ("embeddings", _Stage(model.embeddings)),
                ("head", _Stage(nn.Linear(vggish.EMBEDDING_SIZE, N_OUTPUTS)))]
    first = [model.stem] if backbone == "r2plus1d" else [model.conv1, model.bn1, model.relu, model.maxpool]
    return [("stem", _Stage(*first))] + [(f"layer{i}", _Stage(getattr(model, f"layer{i}"))) for i in range(1, 5)] \
        + [("head", _Stage(model.avgpool, nn.Flatten(1), model.fc, after=lambda x: x[:, :N_OUTPUTS]))]


# ---------------------------------------------------------------- training
def _fit(batch_loss: Callable[[np.ndarray], torch.Tensor], parameters: list[nn.Parameter], n: int,
         epochs: int, batch_size: int, lr: float, rng: np.random.Generator) -> list[float]:
    """AdamW on batch_loss(example indices), linear warm-up over the first 10 % of steps,
    cosine decay."""
    batches = max(1, math.ceil(n / batch_size))
    steps = epochs * batches
    warmup = max(1, steps // 10)
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))
    losses = []
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(n), batches):
            loss = batch_loss(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    return losses


@torch.no_grad()
def _scale_to_unit_variance(model: nn.Module, batch: torch.Tensor, modules: list[nn.Module]) -> None:
    """Data-dependent initialisation (LSUV, Mishkin & Matas 2016) for a network without
    normalisation layers (VGGish): in forward order, each conv / linear layer among `modules`
    has its weights divided by the standard deviation of its outputs on `batch` (the whole
    model's forward) and its bias set to 0.

    A seeded VGGish maps log-mel input to embeddings of about 0.006 standard deviation, from
    which a short training learns almost nothing; after this it starts at unit scale.
    """
    for layer in [m for m in modules if isinstance(m, (nn.Conv2d, nn.Linear))]:
        out: list[torch.Tensor] = []
        hook = layer.register_forward_hook(lambda module, inputs, output: out.append(output))
        model(batch)
        hook.remove()
        layer.weight.div_(out[0].std() + 1e-8)
        layer.bias.zero_()


@torch.no_grad()
def _recalibrate_batch_norm(model: nn.Module, inputs: Callable[[slice], torch.Tensor], n: int,
                            batch_size: int = 32) -> None:
    """Recompute the running statistics of the trained BatchNorm layers on training inputs.

    They start at mean 0 / variance 1 and move by 10 % a step, so after a few dozen steps
    they are still far from the real statistics of a randomly initialised network's
    activations, and eval mode (extraction) would rescale features wrongly. Averaged over
    up to n examples instead (what torch.optim.swa_utils.update_bn does).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = model.training
    model.train()
    for i in range(0, n, batch_size):
        model(inputs(slice(i, min(i + batch_size, n))))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)


@torch.inference_mode()
def _batched(forward: Callable[[torch.Tensor], torch.Tensor], inputs: Callable[[slice], torch.Tensor],
             n: int, batch_size: int = 64) -> torch.Tensor:
    return torch.cat([forward(inputs(slice(i, i + batch_size))) for i in range(0, n, batch_size)])


def _save(state: dict[str, torch.Tensor], out_path: str | Path) -> None:
    """A plain state dict (what torchvision / torchvggish publish), via a temp file and rename."""
    with atomic.replacing(Path(out_path)) as tmp:
        torch.save({k: v.detach().clone().contiguous() for k, v in state.items()}, tmp)


def _teacher_stem(resnet: nn.Module, clips: np.ndarray, batch_size: int = 100) -> torch.Tensor:
    """The 2D CNN's stem, max-pool included, on every frame: uint8 [n, T, H, W, 3] ->
    [n, 64, T, H/4, W/4], the layout of R(2+1)D's stem output."""
    stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool).eval()
    n, t = clips.shape[:2]

    def frames(i: slice) -> torch.Tensor:
        part = clips[i]
        return cnn.images_to_2d_input(part.reshape(-1, *part.shape[2:]))

    out = _batched(stem, frames, n, batch_size) if n else torch.empty(0)
    return out.reshape(n, t, *out.shape[1:]).transpose(1, 2)


def _inflate_and_distil(model: nn.Module, teacher_weights: str, teacher_size: int, size: int,
                        n_examples: int, clip_len: int, rng: np.random.Generator, epochs: int,
                        batch_size: int, lr: float) -> tuple[list[float], dict]:
    """R(2+1)D-18 from the demo's pretrained 2D ResNet-18 (inflation.inflate_resnet18), its
    stem distilled on in-world clips: at `size` px it learns to give what the ResNet's stem and
    max-pool give on the same clips at teacher_size = 2 x size px (mean squared error)."""
    if teacher_size != 2 * size:
        raise ValueError(f"an inflated R(2+1)D reads frames at half the 2D CNN's size: features.r2plus1d.size "
                         f"is {size}, features.cnn2d.size {teacher_size} (needs {2 * size})")
    teacher = torchvision.models.resnet18(weights=None)
    label, sha = apply_weights(teacher, teacher_weights, "demo.backbone_training.r2plus1d.inflate_from",
                               CNN_PUBLISHED["resnet18"])
    inflate_resnet18(teacher.eval(), model, N_OUTPUTS)
    teacher_rng = copy.deepcopy(rng)  # the same clips at the teacher's size
    data, _ = object_clips(n_examples, rng, size, clip_len)
    targets = _teacher_stem(teacher, object_clips(n_examples, teacher_rng, teacher_size, clip_len)[0])
    inputs = _batched(nn.Identity(), lambda i: cnn.clips_to_r2plus1d_input(data[i]), n_examples)
    model.stem.train()
    losses = _fit(lambda idx: F.mse_loss(model.stem(inputs[idx]), targets[idx]), list(model.stem.parameters()),
                  n_examples, epochs, batch_size, lr, rng)
    _recalibrate_batch_norm(model.stem, lambda i: inputs[i], min(n_examples, RECALIBRATION_EXAMPLES))
    return losses, {"file": label, "sha256": sha, "target_mean_square": round(float(targets.square().mean()), 4)}


def pretrain_backbone(backbone: str, out_path: str | Path, n_examples: int, epochs: int,
                      batch_size: int, lr: float, seed: int = 0, size: int = 64,
                      clip_len: int = 8, arch: str = "resnet18", train_from: str | None = None,
                      inflate_from: str | None = None, teacher_size: int | None = None,
                      n_holdout: int | None = None) -> dict:
    """Pretrain one demo backbone on its in-world data and save its state dict atomically.

    backbone: cnn2d (torchvision `arch`, images of `size` px), r2plus1d (clips of clip_len
    frames of `size` px) or vggish (size is ignored: VGGish's input is the 96x64 log-mel).
    train_from names the first stage that is trained (the names of _stages; default the first: all
    of it). The stages before it keep their seeded initial weights: their outputs (eval mode,
    as in extraction) are computed once and training runs through the rest, which is what
    makes several epochs affordable on two CPU cores.
    inflate_from (r2plus1d only): the pretrained 2D ResNet-18's weight file, read at
    teacher_size px; R(2+1)D is inflated from it and only its stem is trained, by distillation
    (_inflate_and_distil), instead of classifying clips. Uses the caller's torch thread setting.
    Returns a log: seconds (data, training, total), steps, the loss of every step, the
    accuracy over 26 classes on n_holdout fresh examples (chance 1/26; default a tenth of
    n_examples, 26 to 260) before and after training.
    """
    if backbone not in DEMO_BACKBONES:
        raise ValueError(f"unknown demo backbone {backbone!r}; choose one of {DEMO_BACKBONES}")
    if inflate_from is not None and (backbone != "r2plus1d" or train_from is not None):
        raise ValueError(f"inflate_from is for r2plus1d without train_from, not {backbone} "
                         f"(train_from {train_from!r})")
    started = time.perf_counter()
    if n_holdout is None:
        n_holdout = int(np.clip(n_examples // 10, N_OUTPUTS, 10 * N_OUTPUTS))
    rng = np.random.default_rng([seed, _STREAM[backbone]])
    holdout_rng = np.random.default_rng([seed, _STREAM[backbone], 1])
    if backbone == "cnn2d":
        model = getattr(torchvision.models, arch)(weights=None)
        to_input = cnn.images_to_2d_input
    elif backbone == "r2plus1d":
        model = torchvision.models.video.r2plus1d_18(weights=None)
        to_input = cnn.clips_to_r2plus1d_input
    else:
        model = vggish.VGGish()
        to_input = torch.from_numpy
    held, held_labels = _examples(backbone, n_holdout, holdout_rng, size, clip_len)
    init_random(model, seed)  # the "random:<seed>" weights of the extractor
    stages = _stages(backbone, model)
    if backbone == "vggish":
        init_random(stages[-1][1], seed)  # the 26-way training head on the embedding
    full = nn.Sequential(*[m for _, m in stages])

    def holdout_accuracy() -> float:
        full.eval()
        return float((_batched(full, lambda i: to_input(held[i]), len(held)).argmax(1).numpy()
                      == held_labels).mean())

    before = holdout_accuracy()
    if inflate_from is not None:
        losses, inflated = _inflate_and_distil(model, inflate_from, teacher_size, size, n_examples, clip_len,
                                               rng, epochs, batch_size, lr)
        trained = ["stem"]
    else:
        losses, trained = _train_stages(backbone, stages, train_from, n_examples, size, clip_len, arch,
                                        rng, seed, epochs, batch_size, lr, to_input)
        inflated = None
    after = holdout_accuracy()
    _save(model.state_dict(), out_path)
    total = time.perf_counter() - started
    log = {"backbone": backbone, "arch": arch if backbone == "cnn2d" else None,
           "trained_stages": trained, "examples": int(n_examples), "steps": len(losses),
           "seconds": {"total": round(total, 2)},
           "holdout_accuracy": {"random_init": round(before, 4), "pretrained": round(after, 4)},
           "loss_first": round(float(np.mean(losses[:5])), 4),
           "loss_last": round(float(np.mean(losses[-5:])), 4), "losses": losses}
    if inflated:
        log["inflated_from"] = inflated
    return log


def _train_stages(backbone: str, stages: list[tuple[str, _Stage]], train_from: str | None, n_examples: int,
                  size: int, clip_len: int, arch: str, rng: np.random.Generator, seed: int, epochs: int,
                  batch_size: int, lr: float, to_input: Callable) -> tuple[list[float], list[str]]:
    """Classify fresh in-world examples with the stages from train_from on; (losses, their names)."""
    names = [name for name, _ in stages]
    train_from = train_from or names[0]
    if train_from not in names[:-1]:
        raise ValueError(f"train_from {train_from!r} is not a stage of {backbone}; choose one of {names[:-1]}")
    data, labels = _examples(backbone, n_examples, rng, size, clip_len)
    split = names.index(train_from)
    bottom, top = nn.Sequential(*[m for _, m in stages[:split]]), nn.Sequential(*[m for _, m in stages[split:]])
    if backbone == "vggish":  # no normalisation layers: start the trained layers at unit scale
        trained = [m for _, stage in stages[split:-1] for m in stage.modules()]
        _scale_to_unit_variance(nn.Sequential(bottom, top).eval(), to_input(data[:64]), trained)
    bottom.eval().requires_grad_(False)
    cached = _batched(bottom, lambda i: to_input(data[i]), len(data)) if split else None
    top_input = (lambda i: cached[i]) if split else (lambda i: to_input(data[i]))
    top.train()
    batch_input = (lambda idx: top_input(torch.from_numpy(idx)).clone()) if split else top_input
    losses = _fit(lambda idx: F.cross_entropy(top(batch_input(idx)), torch.from_numpy(labels[idx])),
                  [p for p in top.parameters() if p.requires_grad], len(labels), epochs, batch_size, lr, rng)
    _recalibrate_batch_norm(top, top_input, min(len(data), RECALIBRATION_EXAMPLES))
    return losses, names[split:-1]
