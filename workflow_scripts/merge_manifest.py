"""Merge the shard manifests and each feature's per-video skips into one account of every video."""
from vplan_core import atomic
from vplan_core.logs import job_log
from vplan_core.manifest import feature_skips, merge_manifests, summarize

with job_log(snakemake.log[0]):
    rows = merge_manifests(snakemake.input.shards, snakemake.output.manifest)
    summary = summarize(rows)
    summary["feature_skips"] = feature_skips(snakemake.input.stores)
    atomic.write_json(snakemake.output.summary, summary)
    print(summary)
