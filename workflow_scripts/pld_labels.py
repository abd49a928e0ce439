"""PLD (Eq. 10-11): refine the train and val PLG labels a stage-1 row trained on with each seed's
model of that row, batched; each modality's labels with its own P (P^v, P^a). The models read
the features their checkpoints record (the job's inputs are those features' stores)."""
import numpy as np
import torch

from vplan_core.data.dataset import labelled_ids, load_labels, load_split_data
from vplan_core.logs import job_log
from vplan_core.plan import job_device
from vplan_core.models.seed_batch import SeedBatch
from vplan_core.training.refinement import refine_labels
from vplan_core.training.outputs import load_trained, save_forward_loss, save_seed_labels

with job_log(snakemake.log[0]):
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    device = job_device(snakemake.resources.gpu)
    models, inputs = load_trained(snakemake.input.model, p.seeds)
    stores = {feature: list(snakemake.input[feature]) for feature in inputs.values()}
    batch = SeedBatch(models).to(device)
    for split in ("train", "val"):
        sources = {modality: snakemake.input[f"{split}_{modality}"] for modality in p.modalities}
        only = set.intersection(*(labelled_ids(path) for path in sources.values()))
        data = load_split_data(p.annotations, split, stores, only=only, inputs=inputs)
        ids = data.split.video_ids
        for modality, plg in sources.items():
            labels = load_labels(plg, ids)
            refined, loss = refine_labels(batch, data.features, labels, p.k, p.alpha, device, modality)
            save_seed_labels(snakemake.output[0], f"{split}_{modality}", p.seeds, ids, refined)
            if split == "val":  # for the label-quality study of K and α (rule label_quality)
                save_forward_loss(snakemake.output[0], f"{split}_{modality}", p.seeds, ids, loss)
            flipped = ", ".join(f"seed {seed}: {int(np.sum(refined[s] != labels))}" for s, seed in enumerate(p.seeds))
            print(f"{split} {modality}: {len(ids)} videos, segment labels flipped ({flipped})")
