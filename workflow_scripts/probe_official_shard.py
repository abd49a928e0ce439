"""Manifest of one shard from the official feature files (no videos): used / skipped / missing."""
from vplan_core.logs import job_log
from vplan_core.data.manifest import summarize, write_manifest
from vplan_core.data.official import status_records
from vplan_core.data.description import describe
from vplan_core.data.shards import all_video_ids, shard_ids

with job_log(snakemake.log[0]):
    p = snakemake.params
    description = describe(p.description)
    ids = shard_ids(all_video_ids(p.annotations, description), snakemake.wildcards.shard, p.shard_size)
    rows = status_records(ids, p.official_dir, description)
    write_manifest(snakemake.output[0], rows)
    print(summarize(rows))
