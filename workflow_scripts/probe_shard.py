"""Probe one shard's videos and record each as used, skipped (with reason) or missing."""
from vplan_core.logs import job_log
from vplan_core.data.manifest import probe_videos, summarize, write_manifest
from vplan_core.data.description import describe
from vplan_core.data.shards import all_video_ids, shard_ids

with job_log(snakemake.log[0]):
    p = snakemake.params
    ids = shard_ids(all_video_ids(p.annotations, describe(p.description)), snakemake.wildcards.shard, p.shard_size)
    rows = probe_videos(ids, p.video_dir, min_duration_s=p.min_duration_s, min_audio_s=p.min_audio_s)
    write_manifest(snakemake.output[0], rows)
    print(summarize(rows))
