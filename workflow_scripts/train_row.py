"""Train one ablation row (Table III) and predict the test split.

The training state is saved after every epoch to resume.pt beside the model (not an output):
a killed job rerun with the same inputs continues after the last finished epoch, with the same
result; it is removed once the outputs are written.
"""
import time
from pathlib import Path

import torch

from vplan_core import atomic
from vplan_core.dataset import HAN_FEATURES, load_labels, load_split_data, save_predictions
from vplan_core.logs import job_log, torch_device
from vplan_core.training import TrainConfig, predict, save_checkpoint, train

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    annotations = snakemake.params.annotations
    stores = {name: list(snakemake.input[name]) for name in HAN_FEATURES}
    data = {split: load_split_data(annotations, split, stores) for split in ("train", "val", "test")}
    train_split = data["train"].split
    segment_labels = (load_labels(snakemake.input.labels, train_split.video_ids)
                      if "labels" in snakemake.input.keys() else None)
    config = TrainConfig(**snakemake.params.settings, device=torch_device(snakemake.resources.gpu))
    started = time.perf_counter()
    resume = Path(snakemake.output.model).with_name("resume.pt")
    result = train(config, data["train"].features, train_split.weak_labels, segment_labels,
                   data["val"].features, data["val"].split.gt_audio, data["val"].split.gt_visual,
                   resume_path=resume)
    videos = {split: {"used": len(d.split.video_ids), "missing": d.n_missing} for split, d in data.items()}
    save_checkpoint(snakemake.output.model, result.model, config,
                    {"best_epoch": result.best_epoch, "best_val_type_at_av": result.best_score, "videos": videos})
    save_predictions(snakemake.output.test_pred, data["test"].split.filenames,
                     predict(result.model, data["test"].features, device=config.device))
    atomic.write_json(snakemake.output.history, {
        "row": snakemake.wildcards.row, "settings": snakemake.params.settings, "videos": videos,
        "best_epoch": result.best_epoch, "best_val_type_at_av": result.best_score,
        "seconds": time.perf_counter() - started, "epochs": result.history})
    resume.unlink(missing_ok=True)
    print(f"best epoch {result.best_epoch}: val Type@AV {result.best_score:.2f}")
