"""One shard of feature extraction: decode the used videos, run a backbone, write one store.

Workflow scripts call extract_shard(feature, rows, out_store, settings). Settings (config):
  all:      weights ("random:<seed>" or a state-dict path; clip uses checkpoint instead),
            batch_size (model inputs per forward, default 64), num_workers (decoding
            processes, default 0), seconds (10), start_s (0.0), decoder ("auto").
  cnn2d:    backbone (resnet152 | resnet50 | resnet18), size (224 px), fps (8).
  r2plus1d: size (112 px), fps (8), clip_len (8): the 80 frames as 10 clips of 8.
  vggish:   audio_rate (must be 16000), pca (False), pca_params (path, needed when pca),
            example_hop_s (1.0).
  clip:     model_name, checkpoint (a form clip_checkpoints.FORMS names, recorded in the
            store's checkpoint_format attr), config_file, size (224 px).
Decoding runs in a DataLoader so that on a GPU node worker processes decode the next videos
while the model runs; on CPU num_workers=0 decodes inline. Inputs of several videos are
batched together for the backbone. A video that fails to decode, or has no audio for VGGish,
is listed in the returned skips and in the store's "skipped" attr, not given made-up features.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..data.manifest import ManifestRow
from ..data.video import VideoError, llp_frame_times, sample_audio, sample_frames, \
    segment_middle_times
from . import cnn, vggish
from .registry import FEATURES, VGGISH_PCA_URL, VGGISH_WEIGHTS_URL
from .store import write_store
from .weights import RANDOM_PREFIX, apply_weights, sha256_file

FRAME_RULE = "frame on screen at t (last pts <= t), clamped to the clip"
RESIZE_RULE = "shorter side to frame_size (bilinear, antialiased), centre crop"


@dataclass
class Extractor:
    """One feature's extractor: input decoding, the forward pass and provenance.

    decode(path, offset_s) is the model input of one video's window (the configured window
    shifted by offset_s seconds); clip_features runs it end to end for one window.
    """

    decode: Callable[..., np.ndarray]  # (path, offset_s=0.0) -> model input of one window [units, ...]
    run: Callable[[np.ndarray], np.ndarray]  # stacked inputs [B, ...] -> outputs [B, D]
    per_video_shape: Callable[[], list[int]]
    model: str
    weights: str
    weights_sha256: str
    sampling: dict
    attrs: dict = field(default_factory=dict)  # feature-specific provenance
    batch_size: int = 64

    def clip_features(self, path: str | os.PathLike, offset_s: float = 0.0) -> np.ndarray:
        """Features [units, D] of one video's window starting offset_s after the configured one."""
        x = self.decode(str(path), offset_s)
        return np.concatenate([self.run(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)])


# ---------------------------------------------------------------- decoding (worker side)
def _decode_frames(path: str, offset_s: float = 0.0, *, times: np.ndarray, size: int, decoder: str,
                   clip_len: int = 0) -> np.ndarray:
    frames = sample_frames(path, times + offset_s, size, decoder)
    return frames.reshape(-1, clip_len, *frames.shape[1:]) if clip_len else frames


def _decode_vggish(path: str, offset_s: float = 0.0, *, seconds: float, start_s: float, hop_s: float) -> np.ndarray:
    wave = sample_audio(path, vggish.SAMPLE_RATE, seconds, start_s + offset_s)
    return vggish.waveform_to_examples(wave, vggish.SAMPLE_RATE, int(round(seconds)),
                                       hop_s).numpy()


class _DecodeDataset(Dataset):
    """Item i = (video_id, model input or None, skip reason) for the i-th row."""

    def __init__(self, rows: Sequence[ManifestRow], decode: Callable[[str], np.ndarray],
                 needs_audio: bool) -> None:
        self.rows, self.decode, self.needs_audio = list(rows), decode, needs_audio

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | None, str]:
        row = self.rows[i]
        if self.needs_audio and not row["has_audio"]:
            return row["video_id"], None, "no audio stream"
        try:
            return row["video_id"], self.decode(row["path"]), ""
        except VideoError as exc:
            return row["video_id"], None, exc.summary


def _identity(item):
    return item


# ---------------------------------------------------------------- batching
def _batched(items: Iterator[tuple[str, np.ndarray]], run: Callable[[np.ndarray], np.ndarray],
             batch_size: int) -> Iterator[tuple[str, np.ndarray]]:
    """Run `run` over inputs of several videos at once; yield (video_id, its outputs)."""
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> Iterator[tuple[str, np.ndarray]]:
        stacked = np.concatenate([x for _, x in pending])
        outputs = np.concatenate([run(stacked[i:i + batch_size])
                                  for i in range(0, len(stacked), batch_size)])
        start = 0
        for vid, x in pending:
            yield vid, outputs[start:start + len(x)]
            start += len(x)
        pending.clear()

    for vid, x in items:
        pending.append((vid, x))
        if sum(len(p) for _, p in pending) >= batch_size:
            yield from flush()
    if pending:
        yield from flush()


# ---------------------------------------------------------------- per-feature setup
def _torch_runner(model: torch.nn.Module, to_input: Callable[[np.ndarray], torch.Tensor]
                  ) -> Callable[[np.ndarray], np.ndarray]:
    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(to_input(batch)).float().cpu().numpy()
    return run


def _common_sampling(s: dict) -> dict:
    return {"seconds": s.get("seconds", 10), "start_s": s.get("start_s", 0.0),
            "decoder": s.get("decoder", "auto")}


def _setup_cnn2d(s: dict, device: str) -> Extractor:
    name, size, fps = s.get("backbone", "resnet152"), s.get("size", 224), s.get("fps", 8)
    model, label, sha = cnn.build_2d_backbone(name, s["weights"])
    model.to(device)
    times = llp_frame_times(fps, s.get("seconds", 10), s.get("start_s", 0.0))
    return Extractor(
        decode=functools.partial(_decode_frames, times=times, size=size,
                                 decoder=s.get("decoder", "auto")),
        run=_torch_runner(model, functools.partial(cnn.images_to_2d_input, device=device)),
        per_video_shape=lambda: [len(times), cnn.BACKBONES_2D[name]],
        model=name, weights=label, weights_sha256=sha,
        sampling={**_common_sampling(s), "fps": fps, "num_frames": len(times),
                  "frame_size": size, "frame_times": "start_s + (i + 0.5) / fps",
                  "frame_rule": FRAME_RULE, "resize": RESIZE_RULE,
                  "normalise": "imagenet mean/std"})


def _setup_r2plus1d(s: dict, device: str) -> Extractor:
    size, fps, clip_len = s.get("size", 112), s.get("fps", 8), s.get("clip_len", 8)
    times = llp_frame_times(fps, s.get("seconds", 10), s.get("start_s", 0.0))
    if len(times) % clip_len:
        raise ValueError(f"{len(times)} frames do not split into clips of {clip_len}")
    model, label, sha = cnn.build_r2plus1d(s["weights"])
    model.to(device)
    return Extractor(
        decode=functools.partial(_decode_frames, times=times, size=size,
                                 decoder=s.get("decoder", "auto"), clip_len=clip_len),
        run=_torch_runner(model, functools.partial(cnn.clips_to_r2plus1d_input, device=device)),
        per_video_shape=lambda: [len(times) // clip_len, cnn.R2PLUS1D_DIM],
        model="r2plus1d_18", weights=label, weights_sha256=sha,
        sampling={**_common_sampling(s), "fps": fps, "num_frames": len(times),
                  "clip_len": clip_len, "frame_size": size,
                  "frame_times": "start_s + (i + 0.5) / fps", "frame_rule": FRAME_RULE,
                  "resize": RESIZE_RULE, "normalise": "kinetics mean/std"})


def _setup_vggish(s: dict, device: str) -> Extractor:
    if s.get("audio_rate", vggish.SAMPLE_RATE) != vggish.SAMPLE_RATE:
        raise ValueError(f"VGGish needs audio_rate {vggish.SAMPLE_RATE}, got {s['audio_rate']}")
    model = vggish.VGGish()
    label, sha = apply_weights(model, s["weights"], "features.vggish.weights",
                               VGGISH_WEIGHTS_URL)
    body: torch.nn.Module = model.eval()
    if s.get("pca", False):
        if not s.get("pca_params"):
            raise ValueError("features.vggish.pca is true but features.vggish.pca_params is "
                             f"not set (published at {VGGISH_PCA_URL})")
        body = torch.nn.Sequential(
            model, vggish.Postprocessor.from_file(s["pca_params"], "features.vggish.pca_params"))
        sha = f"{sha} pca:{sha256_file(s['pca_params'])}"
    body.to(device)
    seconds, hop_s = s.get("seconds", 10), s.get("example_hop_s", 1.0)
    return Extractor(
        decode=functools.partial(_decode_vggish, seconds=seconds,
                                 start_s=s.get("start_s", 0.0), hop_s=hop_s),
        run=_torch_runner(body, lambda x: torch.from_numpy(x).to(device)),
        per_video_shape=lambda: [int(round(seconds)), vggish.EMBEDDING_SIZE],
        model="vggish" + ("+pca" if s.get("pca", False) else ""), weights=label,
        weights_sha256=sha,
        sampling={**_common_sampling(s), "sample_rate": vggish.SAMPLE_RATE,
                  "downmix": "mean of channels", "example_hop_s": hop_s,
                  "example": "0.96 s, 96x64 log-mel (25 ms / 10 ms, 125-7500 Hz)"})


def _clip_weights_label(checkpoint: str | None) -> tuple[str, str]:
    if checkpoint and checkpoint.startswith(RANDOM_PREFIX):
        return f"random-seed-{int(checkpoint[len(RANDOM_PREFIX):])}", ""
    if checkpoint and Path(checkpoint).is_file():
        return str(Path(checkpoint).resolve()), sha256_file(checkpoint)
    return f"unverified: {checkpoint}", ""


def _setup_clip(s: dict, device: str) -> Extractor:
    from .clip import encode_images, load_clip, provenance  # lazy: open_clip is a heavy import

    model, preprocess, _ = load_clip(s["model_name"], s.get("checkpoint"),
                                     s.get("config_file"), device=device)
    size, seconds = s.get("size", 224), s.get("seconds", 10)
    times = segment_middle_times(seconds, s.get("start_s", 0.0))
    batch_size = s.get("batch_size", 64)

    def run(frames: np.ndarray) -> np.ndarray:
        return encode_images(model, preprocess, frames, batch_size=batch_size, device=device)

    label, sha = _clip_weights_label(s.get("checkpoint"))
    return Extractor(
        decode=functools.partial(_decode_frames, times=times, size=size,
                                 decoder=s.get("decoder", "auto")),
        run=run,
        per_video_shape=lambda: [len(times), run(np.zeros((1, size, size, 3), np.uint8))
                                 .shape[1]],
        model=f"open_clip:{s['model_name']}", weights=label, weights_sha256=sha,
        sampling={**_common_sampling(s), "frame_size": size,
                  "frame_times": "start_s + segment + 0.5 (segment middle)",
                  "frame_rule": FRAME_RULE, "resize": RESIZE_RULE + ", then CLIP preprocess"},
        attrs={"checkpoint_format": provenance(str(s.get("checkpoint") or ""), model)})


_SETUP = {"cnn2d": _setup_cnn2d, "r2plus1d": _setup_r2plus1d, "vggish": _setup_vggish,
          "clip": _setup_clip}


def build_extractor(feature: str, settings: dict, device: str = "cpu") -> Extractor:
    """The extractor of `feature` with the workflow's settings (plan.extraction_settings)."""
    if feature not in _SETUP:
        raise ValueError(f"unknown feature {feature!r}; choose one of {tuple(FEATURES)}")
    return replace(_SETUP[feature](settings, device), batch_size=settings.get("batch_size", 64))


# ---------------------------------------------------------------- entry point
def extract_shard(feature: str, manifest_rows: Sequence[ManifestRow],
                  out_store: str | os.PathLike, settings: dict, device: str = "cpu") -> dict:
    """Extract `feature` for the rows with status "used" and write the store `out_store`.

    Returns {"feature", "store", "n_videos", "n_written", "skipped": [[video_id, reason]],
    "shape", "model", "weights", "seconds"}. Rows that are not "used" are ignored: the
    manifest already accounts for them.
    """
    started = time.perf_counter()
    rows = [r for r in manifest_rows if r["status"] == "used"]
    ex = build_extractor(feature, settings, device)
    loader = DataLoader(_DecodeDataset(rows, ex.decode, needs_audio=feature == "vggish"),
                        batch_size=None, num_workers=settings.get("num_workers", 0),
                        collate_fn=_identity)
    skipped: list[list[str]] = []

    def decoded() -> Iterator[tuple[str, np.ndarray]]:
        for vid, x, reason in loader:
            if x is None:
                skipped.append([vid, reason])
            else:
                yield vid, x

    ids, outputs = [], []
    for vid, out in _batched(decoded(), ex.run, ex.batch_size):
        ids.append(vid)
        outputs.append(out)
    shape = list(outputs[0].shape) if outputs else ex.per_video_shape()
    features = np.stack(outputs) if outputs else np.zeros((0, *shape), np.float32)
    write_store(out_store, features, ids, {
        "feature": feature, "model": ex.model, "weights": ex.weights,
        "weights_sha256": ex.weights_sha256, "sampling": ex.sampling, "skipped": skipped,
        **ex.attrs})
    return {"feature": feature, "store": str(out_store), "n_videos": len(rows),
            "n_written": len(ids), "skipped": skipped, "shape": shape, "model": ex.model,
            "weights": ex.weights, "seconds": round(time.perf_counter() - started, 3)}
