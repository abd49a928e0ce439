"""Extract one feature for one shard's usable videos into a zarr store."""
import torch

from vplan_core.features.extract import extract_shard
from vplan_core.logs import job_log
from vplan_core.plan import job_device
from vplan_core.data.manifest import read_manifest

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    records = [record for record in read_manifest(snakemake.input.manifest) if record["status"] == "used"]
    summary = extract_shard(snakemake.wildcards.feature, records, snakemake.output[0],
                            dict(snakemake.params.settings), device=job_device(snakemake.resources.gpu))
    print(summary)
