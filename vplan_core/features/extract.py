"""One shard of feature extraction: decode the used videos, run a backbone, write one store.

Workflow scripts call extract_shard(feature, records, out_store, settings). Settings (config):
  all:      weights ("random:<seed>" or a state-dict path; clip uses checkpoint instead),
            batch_size (model inputs per forward, default 64; it changes no value, so the
            workflow passes it as a resource, not a param), num_workers (decoding processes,
            default 0), seconds (10), start_s (0.0), decoder ("auto").
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

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np
from torch.utils.data import DataLoader, Dataset

from ..data.manifest import ManifestRecord
from ..data.video import VideoError
from .extractor import Extractor
from vplan_core.feature_registry import feature as feature_spec
from vplan_core.feature_store import write_store


class _DecodeDataset(Dataset):
    """Item i = (video_id, model input or None, skip reason) for the i-th record."""

    def __init__(self, records: Sequence[ManifestRecord], decode: Callable[[str], np.ndarray],
                 needs_audio: bool) -> None:
        self.records, self.decode, self.needs_audio = list(records), decode, needs_audio

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | None, str]:
        record = self.records[i]
        if self.needs_audio and not record["has_audio"]:
            return record["video_id"], None, "no audio stream"
        try:
            return record["video_id"], self.decode(record["path"]), ""
        except VideoError as exc:
            return record["video_id"], None, exc.summary


def _identity(item):
    return item


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


def build_extractor(feature: str, settings: dict, device: str = "cpu") -> Extractor:
    """The extractor of `feature` with the workflow's settings (plan.extraction_settings)."""
    return replace(feature_spec(feature).build_extractor(settings, device), batch_size=settings.get("batch_size", 64))


def extract_shard(feature: str, records: Sequence[ManifestRecord],
                  out_store: str | os.PathLike, settings: dict, device: str = "cpu") -> dict:
    """Extract `feature` for the records with status "used" and write the store `out_store`.

    Returns {"feature", "store", "n_videos", "n_written", "skipped": [[video_id, reason]],
    "shape", "model", "weights", "seconds"}. Rows that are not "used" are ignored: the
    manifest already accounts for them.
    """
    started = time.perf_counter()
    records = [r for r in records if r["status"] == "used"]
    ex = build_extractor(feature, settings, device)
    loader = DataLoader(_DecodeDataset(records, ex.decode, needs_audio=feature_spec(feature).needs_audio),
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
    return {"feature": feature, "store": str(out_store), "n_videos": len(records),
            "n_written": len(ids), "skipped": skipped, "shape": shape, "model": ex.model,
            "weights": ex.weights, "seconds": round(time.perf_counter() - started, 3)}
