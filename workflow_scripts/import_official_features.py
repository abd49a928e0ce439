"""Write one shard of an official pre-extracted HAN feature (vggish, res152, r2plus1d_18) as a store."""
from vplan_core.logs import job_log
from vplan_core.data.manifest import read_manifest
from vplan_core.data.official import import_shard

with job_log(snakemake.log[0]):
    rows = read_manifest(snakemake.input.manifest)
    summary = import_shard(snakemake.wildcards.feature, rows, snakemake.params.official_dir, snakemake.output[0])
    print({key: value for key, value in summary.items() if key != "skipped"},
          f"{len(summary['skipped'])} skipped")
