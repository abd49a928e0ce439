"""Extract one feature for one shard's usable videos into a zarr store."""
import torch

from vplan_core.features.extract import extract_shard
from vplan_core.logs import job_log
from vplan_core.plan import EXTRACTION_MACHINE_KEYS, job_device
from vplan_core.data.manifest import read_manifest

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    records = [record for record in read_manifest(snakemake.input.manifest) if record["status"] == "used"]
    resources = dict(snakemake.resources.items())  # machine settings: resources, not params
    settings = {**snakemake.params.settings, **{key: resources[key] for key in EXTRACTION_MACHINE_KEYS if key in resources}}
    summary = extract_shard(snakemake.wildcards.feature, records, snakemake.output[0], settings,
                            device=job_device(snakemake.resources.gpu))
    print(summary)
