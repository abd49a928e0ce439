"""Write one shard of a released pre-extracted HAN feature (the description's released_features) as a store."""
from vplan_core.logs import job_log
from vplan_core.data.description import describe
from vplan_core.data.manifest import read_manifest
from vplan_core.data.official import import_shard

with job_log(snakemake.log[0]):
    p = snakemake.params
    rows = read_manifest(snakemake.input.manifest)
    summary = import_shard(snakemake.wildcards.feature, rows, p.official_dir, snakemake.output[0], describe(p.description))
    print({key: value for key, value in summary.items() if key != "skipped"},
          f"{len(summary['skipped'])} skipped")
