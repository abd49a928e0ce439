"""Demo: train the small CLAP on the demo world's own class sounds (never on the demo clips)."""
import json

import torch

from vplan_core.demo.clap_training import train_demo_clap
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    log = train_demo_clap(snakemake.output[0], **snakemake.params.training)
    losses = log.pop("losses", [])
    print(json.dumps(log))
    print("losses:", " ".join(f"{v:.3f}" for v in losses))
