"""One shard of feature extraction: every feature of the job from one decode per video.

extract_shard(settings, records, stores) builds all the job's extractors once (resident for the
whole shard; run_shard takes them built), decodes each used video once for all of them (decoding.py: frames at the union
of their times, the audio once) in DataLoader worker processes, and feeds each model batches of
inputs from several videos. Inputs are prepared on the job's device; outputs stay there until
the shard is done. Settings per feature (config features.<name> plus its sampling keys):
  all:      weights ("random:<seed>" or a state-dict path; clip and clap use checkpoint
            instead), batch_size (model inputs per forward, default 64; it changes no value,
            so the workflow passes it as a resource, not a param), seconds (10), start_s (0.0),
            decoder ("auto").
  cnn2d:    backbone (resnet152 | resnet50 | resnet18), size (224 px), fps (8).
  r2plus1d: size (112 px), fps (8), clip_len (8): the 80 frames as 10 clips of 8.
  vggish:   audio_rate (must be 16000), pca (False), pca_params (path, needed when pca),
            example_hop_s (1.0).
  clip:     model_name, checkpoint (a form clip_checkpoints.FORMS names, recorded in the
            store's checkpoint_format attr), config_file, size (224 px).
  clap_maps: checkpoint (a LAION-CLAP file or transformers folder), fusion, config: one
            [tokens, C] HTSAT feature map a video (VALOR++'s audio; clap_maps.py).
A video that fails to decode, or has no audio for an audio feature, is listed in that
feature's skips and its store's "skipped" attr, not given made-up features.

The workflow reruns a shard's job when any feature's settings change; refresh_shard then
extracts only the features whose store does not carry the fingerprint of its settings and the
shard's videos, and leaves the others' stores as they are.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from vplan_core.data.manifest import ManifestRecord
from vplan_core.feature_registry import feature as feature_spec
from vplan_core.feature_store import open_store, write_store
from .decoding import DecodePlan, ShardDecoding
from .extractor import Extractor


def build_extractor(feature: str, settings: dict, device: str = "cpu") -> Extractor:
    """The extractor of `feature` with the workflow's settings (plan.extraction_settings)."""
    return replace(feature_spec(feature).build_extractor(settings, device), batch_size=settings.get("batch_size", 64))


class _FeatureRun:
    """One feature's progress through a shard: pending inputs, outputs on the device, skips."""

    def __init__(self, extractor: Extractor, timed: bool) -> None:
        self.ex, self.timed = extractor, timed
        self.pending: list[tuple[str, torch.Tensor]] = []
        self.ids: list[str] = []
        self.outputs: list[torch.Tensor] = []
        self.skipped: list[list[str]] = []
        self.seconds = 0.0

    def add(self, video_id: str, decoded) -> None:
        started = time.perf_counter()
        problem = decoded.problem(self.ex.needs)
        if problem:
            self.skipped.append([video_id, problem])
            return
        self.pending.append((video_id, self.ex.prepare(decoded)))
        if sum(len(x) for _, x in self.pending) >= self.ex.batch_size:
            self.flush()
        self._clock(started)

    def flush(self) -> None:
        """Run the model over the pending inputs of several videos (batch_size at a time)."""
        if self.pending:
            self.outputs.append(self.ex.forward(torch.cat([x for _, x in self.pending])))
            self.ids += [vid for vid, _ in self.pending]
            self.pending.clear()

    def features(self) -> np.ndarray:
        """[n_videos, units, D] float32 on the CPU: the shard's one wait for the device."""
        started = time.perf_counter()
        self.flush()
        self._clock(started)
        if not self.ids:
            return np.zeros((0, *self.ex.per_video_shape()), np.float32)
        return torch.cat(self.outputs).float().cpu().numpy().reshape(len(self.ids), -1, self.outputs[0].shape[-1])

    def _clock(self, started: float) -> None:
        if self.timed and self.ex.device.type == "cuda":
            torch.cuda.synchronize(self.ex.device)
        self.seconds += time.perf_counter() - started


def extract_shard(settings: Mapping[str, dict], records: Sequence[ManifestRecord],
                  stores: Mapping[str, str | os.PathLike], device: str = "cpu", num_workers: int = 0,
                  attrs: Mapping[str, dict] | None = None, timed: bool = False) -> dict[str, dict]:
    """Build each feature's extractor of `settings` and run them over the shard (run_shard)."""
    extractors = {name: build_extractor(name, s, device) for name, s in settings.items()}
    return run_shard(extractors, records, stores, num_workers, attrs, timed)


def run_shard(extractors: Mapping[str, Extractor], records: Sequence[ManifestRecord],
              stores: Mapping[str, str | os.PathLike], num_workers: int = 0,
              attrs: Mapping[str, dict] | None = None, timed: bool = False) -> dict[str, dict]:
    """Extract each feature for the records with status "used" into its store, from one decode
    of each video (all extractors on one device).

    Returns, per feature, {"feature", "store", "n_videos", "n_written", "skipped": [[video_id,
    reason]], "shape", "model", "weights", "seconds", "decode_seconds", "job_seconds"}:
    "seconds" is that feature's share (its preparing and forward passes; timed=True waits for
    the device after each, to make it exact), "decode_seconds" the time the job waited for
    decoded videos, "job_seconds" the whole pass. `attrs` adds attributes to a feature's store
    (the workflow's fingerprint). Rows that are not "used" are ignored: the manifest already
    accounts for them.
    """
    started = time.perf_counter()
    device = next(iter(extractors.values())).device
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels once
    records = [r for r in records if r["status"] == "used"]
    runs = {name: _FeatureRun(ex, timed) for name, ex in extractors.items()}
    plan = DecodePlan.union(ex.needs for ex in extractors.values())
    loader = DataLoader(ShardDecoding(records, plan), batch_size=None, num_workers=num_workers,
                        collate_fn=_identity, pin_memory=device.type == "cuda")
    waited = 0.0
    asked = time.perf_counter()
    for video_id, decoded in loader:
        waited += time.perf_counter() - asked
        decoded.to(device)
        for run in runs.values():
            run.add(video_id, decoded)
        asked = time.perf_counter()
    summaries = {}
    for name, run in runs.items():
        ex, features = run.ex, run.features()
        write_store(stores[name], features, run.ids, {
            "feature": name, "model": ex.model, "weights": ex.weights, "weights_sha256": ex.weights_sha256,
            "sampling": ex.sampling, "skipped": run.skipped, "compute": ex.compute(), **ex.attrs,
            **(attrs or {}).get(name, {})})
        summaries[name] = {"feature": name, "store": str(stores[name]), "n_videos": len(records),
                           "n_written": len(run.ids), "skipped": run.skipped, "shape": list(features.shape[1:]),
                           "model": ex.model, "weights": ex.weights, "seconds": round(run.seconds, 3),
                           "decode_seconds": round(waited, 3)}
    total = round(time.perf_counter() - started, 3)
    for summary in summaries.values():
        summary["job_seconds"] = total
    return summaries


def _identity(item):
    return item


# ---------------------------------------------------------------- the workflow's shard job
def fingerprint(settings_file: str | os.PathLike, records: Sequence[ManifestRecord]) -> str:
    """What a feature's store of a shard depends on: its settings file (settings and weight
    files' sha256, written by the extraction_settings rule) and the shard's used videos (id,
    path, and the file's size and modification time: a video written anew is extracted anew)."""
    used = [[r["video_id"], r["path"], *_stat(r["path"])] for r in records if r["status"] == "used"]
    text = Path(settings_file).read_text() + json.dumps(used)
    return hashlib.sha256(text.encode()).hexdigest()


def _stat(path: str) -> list[int]:
    try:
        found = os.stat(path)
    except OSError:
        return []
    return [found.st_size, found.st_mtime_ns]


def stale_features(settings_files: Mapping[str, str | os.PathLike], records: Sequence[ManifestRecord],
                   stores: Mapping[str, str | os.PathLike]) -> dict[str, str]:
    """{feature: fingerprint} of each feature whose store is missing or was made from other
    settings or videos."""
    stale = {}
    for name, path in settings_files.items():
        expected = fingerprint(path, records)
        try:
            current = open_store(stores[name])[1].get("fingerprint")
        except (FileNotFoundError, ValueError, KeyError):
            current = None
        if current != expected:
            stale[name] = expected
    return stale


def refresh_shard(settings_files: Mapping[str, str | os.PathLike], records: Sequence[ManifestRecord],
                  stores: Mapping[str, str | os.PathLike], machine: Mapping[str, dict] | None = None,
                  device: str = "cpu", num_workers: int = 0) -> dict[str, dict]:
    """The shard job: extract, in one pass, the features whose stores are stale (stale_features);
    `machine` adds per-feature settings that change no value (batch_size). Returns their
    summaries, and {"feature", "store", "kept": True} for the stores left as they were."""
    stale = stale_features(settings_files, records, stores)
    settings = {name: {**json.loads(Path(settings_files[name]).read_text())["settings"], **(machine or {}).get(name, {})}
                for name in stale}
    done = (extract_shard(settings, records, {name: stores[name] for name in stale}, device, num_workers,
                          attrs={name: {"fingerprint": fp} for name, fp in stale.items()}) if stale else {})
    kept = {name: {"feature": name, "store": str(stores[name]), "kept": True} for name in settings_files if name not in stale}
    return {**done, **kept}


def write_settings_file(path: str | os.PathLike, feature: str, settings: dict, files: Sequence[str]) -> None:
    """The extraction_settings rule's file: a feature's settings and the sha256 of each file it
    reads (a changed weight file changes the fingerprint of every store of the feature)."""
    from vplan_core import atomic
    from vplan_core.features.weights import sha256_file

    content = {"feature": feature, "settings": settings,
               "files": {str(f): sha256_file(f) for f in files if Path(f).is_file()}}
    with atomic.replacing(path) as tmp:
        Path(tmp).write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
