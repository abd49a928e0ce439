"""Write one shard of released CLIP image embeddings (dataset.clip_features) as the clip store."""
from vplan_core.logs import job_log
from vplan_core.data.manifest import read_manifest
from vplan_core.data.official import import_clip_shard

with job_log(snakemake.log[0]):
    p = snakemake.params
    summary = import_clip_shard(read_manifest(snakemake.input.manifest), p.clip_dir, snakemake.output[0],
                                p.model_name, p.frame_rule)
    print({key: value for key, value in summary.items() if key != "skipped"},
          f"{len(summary['skipped'])} skipped")
