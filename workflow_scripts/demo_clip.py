"""Demo: train the small CLIP on synthetic object images (never on the demo clips)."""
import torch

from vplan_core.demo.clip_training import train_demo_clip
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    train_demo_clip(snakemake.output[0], **snakemake.params.training)
