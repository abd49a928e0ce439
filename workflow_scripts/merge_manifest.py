"""Merge the shard manifests and each feature's per-video skips into one account of every video,
plus the files in the videos folder that no split names ("extra")."""
from vplan_core import atomic
from vplan_core.logs import job_log
from vplan_core.feature_store import feature_skips
from vplan_core.data.manifest import extra_videos, merge_manifests, summarize

with job_log(snakemake.log[0]):
    rows = merge_manifests(snakemake.input.shards, snakemake.output.manifest)
    summary = summarize(rows)
    summary["feature_skips"] = feature_skips(snakemake.input.stores)
    summary["extra"] = extra_videos(snakemake.params.videos or None, [r["video_id"] for r in rows])
    atomic.write_json(snakemake.output.summary, summary)
    print(summary)
