"""Extract one shard's stale feature stores in one decoding pass (features/extract.py refresh_shard)."""
import torch

from vplan_core.data.manifest import read_manifest
from vplan_core.features.extract import refresh_shard
from vplan_core.logs import job_log
from vplan_core.plan import job_device

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    features = list(snakemake.params.features)
    resources = dict(snakemake.resources.items())  # machine settings: resources, not params
    machine = {feature: {"batch_size": resources[f"batch_size_{feature}"]} for feature in features
               if resources.get(f"batch_size_{feature}")}
    summaries = refresh_shard(dict(zip(features, snakemake.input.settings)), read_manifest(snakemake.input.manifest),
                              {feature: snakemake.output[feature] for feature in features}, machine,
                              device=job_device(snakemake.resources.gpu), num_workers=int(resources["decode_workers"]))
    for summary in summaries.values():
        print(summary)
