"""The files of one job of seeds: a folder with one sub-folder per seed (vplan_core.plan).

A training job writes, for every seed s of its group, what a run of that seed alone would
write: seed_<s>/model.pt (checkpoints.py), seed_<s>/history.json (settings, videos, best epoch,
every epoch's loss and val metrics) and seed_<s>/test_pred.npz (PRED.npz, architecture.md).
A PLD job writes seed_<s>/<split>_<modality>.npz (labels npz). Readers take the folder and its seeds;
each label kind's reader (ablation.LABEL_KINDS) reads or builds a training job's labels of it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from torch import nn

from vplan_core import atomic
from vplan_core.data.dataset import labelled_ids, load_labels, load_rows, save_labels, save_predictions
from vplan_core.data.annotations import Split
from vplan_core.method.ablation import LABEL_KINDS
from vplan_core.paths import seed_dir
from vplan_core.training.checkpoints import checkpoint_inputs, load_checkpoint, save_checkpoint
from vplan_core.training.prediction import seed_predictions

MODEL, HISTORY, TEST_PRED = "model.pt", "history.json", "test_pred.npz"


def seed_file(job_dir: str | Path, seed: int, name: str) -> Path:
    return Path(job_dir) / seed_dir(seed) / name


def save_training_outputs(job_dir: str | Path, results, config, test_filenames: list[str],
                          test_pred: dict[str, np.ndarray], history: dict) -> None:
    """Per seed: checkpoint, history (`history` plus the seed's own epochs) and test predictions.

    results: the trainer's SeedResults; test_pred: predict_split of their models ([S, ...]).
    """
    for s, result in enumerate(results):
        extra = {"seed": result.seed, "best_epoch": result.best_epoch, "best_val_type_at_av": result.best_score}
        save_checkpoint(seed_file(job_dir, result.seed, MODEL), result.model, config,
                        {**extra, "videos": history.get("videos")})
        save_predictions(seed_file(job_dir, result.seed, TEST_PRED), test_filenames, seed_predictions(test_pred, s))
        atomic.write_json(seed_file(job_dir, result.seed, HISTORY),
                          {**history, **extra, "epochs": result.history})


def load_models(job_dir: str | Path, seeds: list[int], device: str = "cpu") -> list[nn.Module]:
    return load_trained(job_dir, seeds, device)[0]


def load_trained(job_dir: str | Path, seeds: list[int], device: str = "cpu") -> tuple[list[nn.Module], dict[str, str]]:
    """Each seed's model of a training job and the features they were trained on (every seed of
    a job reads the same; checkpoint_inputs)."""
    loaded = [load_checkpoint(seed_file(job_dir, seed, MODEL), device=device) for seed in seeds]
    return [model for model, _ in loaded], checkpoint_inputs(loaded[0][1])


def read_histories(job_dir: str | Path, seeds: list[int]) -> list[dict]:
    return [json.loads(seed_file(job_dir, seed, HISTORY).read_text()) for seed in seeds]


def load_predictions(job_dir: str | Path, seed: int) -> dict[str, np.ndarray]:
    with np.load(seed_file(job_dir, seed, TEST_PRED)) as pred:
        return dict(pred)


def save_seed_labels(job_dir: str | Path, split: str, seeds: list[int], video_ids: list[str],
                     labels: np.ndarray) -> None:
    """labels [S, N, T, C]: seed s's labels of `split` to seed_<s>/<split>.npz."""
    for s, seed in enumerate(seeds):
        save_labels(seed_file(job_dir, seed, f"{split}.npz"), video_ids, labels[s])


def save_forward_loss(job_dir: str | Path, split: str, seeds: list[int], video_ids: list[str],
                      loss: np.ndarray) -> None:
    """loss [S, N, T, C]: seed s's PLD forward-loss matrix M of `split` (Eq. 10, before masking)
    to seed_<s>/<split>_forward_loss.npz, for the label-quality study of K and α."""
    for s, seed in enumerate(seeds):
        atomic.savez(seed_file(job_dir, seed, f"{split}_forward_loss.npz"), video_ids=np.asarray(video_ids),
                     loss=np.asarray(loss[s], dtype=np.float32))


def load_forward_loss(job_dir: str | Path, split: str, seeds: list[int], video_ids: list[str]) -> np.ndarray:
    """[S, N, T, C] float64 for `video_ids`, in that order (save_forward_loss)."""
    return np.stack([load_rows(seed_file(job_dir, seed, f"{split}_forward_loss.npz"), "loss", video_ids, "forward loss")
                     for seed in seeds]).astype(np.float64)


class SharedLabels:
    """Labels every seed of a job trains on: one labels npz (PLG's, VALOR's released ones)."""

    @staticmethod
    def videos(source: str | Path, split: str, modality: str, seeds: list[int]) -> set[str]:
        return labelled_ids(source)

    @staticmethod
    def load(source: str | Path, split: Split, modality: str, seeds: list[int]) -> np.ndarray:
        """[N, T, C] for the split's videos, in its order."""
        return load_labels(source, split.video_ids, split.lengths)


class SeedLabels:
    """Each seed's own labels: a PLD job's folder (every seed labels the same videos)."""

    @staticmethod
    def videos(source: str | Path, split: str, modality: str, seeds: list[int]) -> set[str]:
        return labelled_ids(seed_file(source, seeds[0], f"{split}_{modality}.npz"))

    @staticmethod
    def load(source: str | Path, split: Split, modality: str, seeds: list[int]) -> np.ndarray:
        """[S, N, T, C] for the split's videos, in its order."""
        return np.stack([load_labels(seed_file(source, seed, f"{split.name}_{modality}.npz"), split.video_ids,
                                     split.lengths)
                         for seed in seeds])


def label_reader(kind: str):
    """The reader of a label kind (ablation.LABEL_KINDS: its reader names a class of this module)."""
    return globals()[LABEL_KINDS[kind].reader]
