"""Train one row for one group of seeds of one parser, batched, and predict the test split.

The parser reads the features its settings name (TrainConfig.inputs; the job's inputs are
their stores, keyed by feature).

The plan tells the job each modality's label kind (params.labels) beside its input
labels_<modality> where the kind has a file (ablation.LABEL_KINDS); the kind's reader reads or
builds the labels (vplan_core.training.outputs). The training state is saved after every epoch
(params.resume, beside the output folder, not an output): a killed job rerun with the same
inputs continues after the last finished epoch, with the same result, and its log and seconds
include the killed attempt's epochs; the state is removed once the outputs are written.
"""
import time
from pathlib import Path

import torch

from vplan_core.data.dataset import load_split_data
from vplan_core.data.description import describe
from vplan_core.evaluation.protocols import PROTOCOLS
from vplan_core.logs import job_log
from vplan_core.plan import job_device
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.prediction import predict_split
from vplan_core.training.outputs import label_reader, save_training_outputs
from vplan_core.training.trainer import TrainConfig, train

with job_log(snakemake.log[0]):
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    config = TrainConfig(**p.settings, seeds=p.seeds, device=job_device(snakemake.resources.gpu))
    stores = {feature: list(snakemake.input[feature]) for feature in config.inputs.values()}
    inputs = dict(snakemake.input.items())
    sources = {modality: (label_reader(kind), inputs.get(f"labels_{modality}")) for modality, kind in p.labels.items()}
    # a row with segment labels trains on the videos that have them (their pseudo-label features) only
    labelled = [reader.videos(path, "train", modality, p.seeds) for modality, (reader, path) in sources.items()]
    labelled = [videos for videos in labelled if videos is not None]
    only = {"train": set.intersection(*labelled)} if labelled else {}
    description = describe(p.description)
    data = {split: load_split_data(p.annotations, split, stores, only.get(split), config.inputs, description)
            for split in ("train", "val", "test")}
    labels = {modality: reader.load(path, data["train"].split, modality, p.seeds)
              for modality, (reader, path) in sources.items()}
    resume = Path(p.resume)
    results = train(config, data["train"].training_set(labels.get("visual"), labels.get("audio")),
                    data["val"].validation_set(), resume_path=resume)
    started = time.perf_counter() - results[0].seconds  # the training's seconds count a killed attempt's too
    batch = SeedBatch([r.model for r in results]).to(config.device)
    test_pred = predict_split(batch, data["test"].features, lambda features: features.to_tensors(config.device),
                              modality_probs=PROTOCOLS[description.metric].modality_probs)
    videos = {split: {"used": len(d.split.video_ids), "missing": d.n_missing} for split, d in data.items()}
    save_training_outputs(snakemake.output[0], results, config, data["test"].split.filenames, test_pred, {
        "row": p.row, "settings": p.settings, "videos": videos, "seconds": time.perf_counter() - started})
    resume.unlink(missing_ok=True)
    for r in results:
        print(f"seed {r.seed}: best epoch {r.best_epoch}, val selection score {r.best_score:.2f}")
