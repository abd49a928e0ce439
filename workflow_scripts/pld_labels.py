"""PLD (Eq. 10-11): refine one split's PLG labels with the stage-1 model's forward loss."""
import numpy as np
import torch

from vplan_core.dataset import HAN_FEATURES, load_labels, load_split_data, save_labels
from vplan_core.logs import job_log, torch_device
from vplan_core.pld import denoise, forward_loss_matrix
from vplan_core.training import load_checkpoint, predict

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    device = torch_device(snakemake.resources.gpu)
    stores = {name: list(snakemake.input[name]) for name in HAN_FEATURES}
    data = load_split_data(snakemake.params.annotations, snakemake.wildcards.split, stores)
    ids = data.split.video_ids
    labels = load_labels(snakemake.input.labels, ids)
    model, _ = load_checkpoint(snakemake.input.model, device=device)
    visual_prob = predict(model, data.features, device=device)["visual_prob"]
    refined = denoise(forward_loss_matrix(visual_prob, labels), labels,
                      k=snakemake.params.k, alpha=snakemake.params.alpha)
    save_labels(snakemake.output[0], ids, refined)
    print(f"{len(ids)} videos, {int(np.sum(refined != labels))} segment labels flipped")
