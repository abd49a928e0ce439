"""One decode of a video window for every feature of a job.

Each extractor says what it reads (Needs: frame times at a size and/or an audio rate). A job
decodes each video once for all its extractors: the frames on screen at the union of their
times, at the video's own size (or, for a video over twice the largest size they read, reduced
to twice that as each frame is decoded: data/video.py), and the audio once, resampled to each rate from the same decoded frames (so
each wave equals a decode at its own rate, sample for sample). Decoding runs in DataLoader
workers and returns uint8 tensors; resizing and normalising happen on the job's device, in each
extractor's `prepare` (data/frames.py). A part that cannot be decoded (or a video without
audio) is a skip reason for the features that read it, not for the others.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from vplan_core.data.frames import resize_crop
from vplan_core.data.manifest import ManifestRecord
from vplan_core.data.video import VideoError, decode_frames, sample_audio_rates

FRAMES, AUDIO = "frames", "audio"


@dataclass(frozen=True)
class Needs:
    """What one extractor reads of a window: frames at `frame_times` (seconds from the file's
    start) resized to a shorter side of `frame_size` px, and/or mono audio at `audio_rate` over
    [start_s, start_s + seconds)."""

    frame_times: tuple[float, ...] = ()
    frame_size: int | None = None
    audio_rate: int | None = None
    seconds: float = 10.0
    start_s: float = 0.0
    decoder: str = "auto"

    def parts(self) -> tuple[str, ...]:
        return ((FRAMES,) if self.frame_times else ()) + ((AUDIO,) if self.audio_rate else ())


@dataclass(frozen=True)
class DecodePlan:
    """The union of several extractors' needs: one decode serves them all. frame_times are the
    distinct time grids one after another (ResNet's and R(2+1)D's 80, then CLIP's 10), so each
    grid's frames are one slice of the decoded frames, read without a copy."""

    frame_times: tuple[float, ...]
    audio_rates: tuple[int, ...]
    seconds: float
    start_s: float
    decoder: str
    frame_size: int | None = None  # the largest; None: frames at the video's own size

    @classmethod
    def union(cls, needs: Iterable[Needs]) -> "DecodePlan":
        needs = list(needs)
        windows = {(n.seconds, n.start_s, n.decoder) for n in needs}
        if len(windows) != 1:
            raise ValueError(f"features decoded together must share seconds, start_s and decoder; got {sorted(windows)}")
        (seconds, start_s, decoder), = windows
        grids = dict.fromkeys(n.frame_times for n in needs if n.frame_times)
        sizes = [n.frame_size for n in needs if n.frame_times]
        return cls(frame_times=tuple(t for grid in grids for t in grid),
                   audio_rates=tuple(sorted({n.audio_rate for n in needs if n.audio_rate})),
                   seconds=seconds, start_s=start_s, decoder=decoder,
                   frame_size=None if None in sizes or not sizes else max(sizes))


@dataclass
class Decoded:
    """One window of one video: frames [len(times), H, W, 3] uint8 at `times` (the plan's,
    shifted by the window's offset), audio waves by rate (float32, CPU), and the skip reason of
    each part that failed."""

    times: np.ndarray
    frames: torch.Tensor | None = None
    audio: dict[int, torch.Tensor] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def problem(self, needs: Needs) -> str | None:
        """Why a feature with `needs` cannot use this video, or None."""
        return next((self.problems[part] for part in needs.parts() if part in self.problems), None)

    def frames_at(self, times: Sequence[float]) -> torch.Tensor:
        """The frames decoded for `times`, one extractor's grid: a slice of the plan's frames."""
        times = np.asarray(times)
        for start in np.flatnonzero(self.times == times[0]):
            if np.array_equal(self.times[start:start + len(times)], times):
                return self.frames[start:start + len(times)]
        raise ValueError("frames_at: these times are not one of the decoded grids")

    def pin_memory(self) -> "Decoded":
        """DataLoader(pin_memory=True) calls this: page-locked frames copy to a GPU asynchronously."""
        if self.frames is not None:
            self.frames = self.frames.pin_memory()
        return self

    def to(self, device: torch.device) -> "Decoded":
        """Frames onto the device (non-blocking from pinned memory); the audio stays on the CPU
        for the audio front ends."""
        if self.frames is not None:
            self.frames = self.frames.to(device, non_blocking=True)
        return self


def decode_window(path: str | os.PathLike, plan: DecodePlan, offset_s: float = 0.0,
                  has_audio: bool = True) -> Decoded:
    """The plan's frames and audio of the window shifted by offset_s; failures become problems."""
    decoded = Decoded(times=np.asarray(plan.frame_times))
    if plan.frame_times:
        try:
            frames = decode_frames(path, np.asarray(plan.frame_times) + offset_s, plan.decoder, plan.frame_size)
            decoded.frames = torch.from_numpy(frames)
        except VideoError as exc:
            decoded.problems[FRAMES] = exc.summary
    if plan.audio_rates:
        if not has_audio:
            decoded.problems[AUDIO] = "no audio stream"
        else:
            try:
                waves = sample_audio_rates(path, plan.audio_rates, plan.seconds, plan.start_s + offset_s)
                decoded.audio = {rate: torch.from_numpy(wave) for rate, wave in waves.items()}
            except VideoError as exc:
                decoded.problems[AUDIO] = exc.summary
    return decoded


class ShardDecoding(Dataset):
    """Item i = (video_id, Decoded) of the i-th record: what DataLoader workers produce."""

    def __init__(self, records: Sequence[ManifestRecord], plan: DecodePlan) -> None:
        self.records, self.plan = list(records), plan

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[str, Decoded]:
        record = self.records[i]
        return record["video_id"], decode_window(record["path"], self.plan, has_audio=bool(record["has_audio"]))


def sample_frames(path: str | os.PathLike, times_s, size: int, decoder: str = "auto") -> np.ndarray:
    """Frames on screen at `times_s`, resized and centre-cropped (frames.resize_crop): uint8
    [K, size, size, 3]."""
    return resize_crop(decode_frames(path, times_s, decoder, size), size).numpy()
