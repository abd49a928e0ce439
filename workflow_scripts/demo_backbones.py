"""Demo: pretrain one demo backbone on in-world data (never demo clips); save its state dict."""
import json

import torch

from vplan_core.demo.backbones import pretrain_backbone
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    log = pretrain_backbone(snakemake.wildcards.backbone, snakemake.output[0], **snakemake.params.settings)
    losses = log.pop("losses")
    print(json.dumps(log))
    print("losses:", " ".join(f"{v:.3f}" for v in losses))
