"""Train one ablation row (Table III) for one group of seeds, batched, and predict the test split.

The training state is saved after every epoch (params.resume, beside the output folder, not an
output): a killed job rerun with the same inputs continues after the last finished epoch, with
the same result; it is removed once the outputs are written.
"""
import time
from pathlib import Path

import torch

from vplan_core.data.dataset import labelled_ids, load_split_data
from vplan_core.feature_registry import HAN_FEATURES
from vplan_core.logs import job_log
from vplan_core.plan import job_device
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.prediction import predict_seeds
from vplan_core.training.outputs import labels_file, load_seed_labels, save_training_outputs
from vplan_core.training.trainer import TrainConfig, train

with job_log(snakemake.log[0]):
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    stores = {name: list(snakemake.input[name]) for name in HAN_FEATURES}
    has_labels, has_audio = "labels" in snakemake.input.keys(), "audio_labels" in snakemake.input.keys()
    # rows 2-7 train on the videos that have pseudo labels (CLIP, and for rows 6-7 CLAP, features) as well
    only = {}
    if has_labels:
        labelled = [labels_file(snakemake.input.labels, p.seeds)]
        if has_audio:
            labelled.append(labels_file(snakemake.input.audio_labels, p.seeds, "train_audio"))
        only["train"] = set.intersection(*(labelled_ids(path) for path in labelled))
    data = {split: load_split_data(p.annotations, split, stores, only.get(split))
            for split in ("train", "val", "test")}
    train_split = data["train"].split
    labels = load_seed_labels(snakemake.input.labels, "train", p.seeds, train_split.video_ids) if has_labels else None
    audio_labels = (load_seed_labels(snakemake.input.audio_labels, "train_audio", p.seeds, train_split.video_ids)
                    if has_audio else None)
    config = TrainConfig(**p.settings, seeds=p.seeds, device=job_device(snakemake.resources.gpu))
    started = time.perf_counter()
    resume = Path(p.resume)
    results = train(config, data["train"].training_set(labels, audio_labels), data["val"].validation_set(),
                    resume_path=resume)
    batch = SeedBatch([r.model for r in results]).to(config.device)
    test_pred = predict_seeds(batch, data["test"].features.to_tensors(config.device))
    videos = {split: {"used": len(d.split.video_ids), "missing": d.n_missing} for split, d in data.items()}
    save_training_outputs(snakemake.output[0], results, config, data["test"].split.filenames, test_pred, {
        "row": p.row, "settings": p.settings, "videos": videos, "seconds": time.perf_counter() - started})
    resume.unlink(missing_ok=True)
    for r in results:
        print(f"seed {r.seed}: best epoch {r.best_epoch}, val Type@AV {r.best_score:.2f}")
