"""Write one shard of released segment embeddings (dataset.clip_features: CLIP image embeddings;
dataset.clap_features: CLAP window embeddings) as that feature's store."""
from vplan_core.data.manifest import read_manifest
from vplan_core.data.official import import_segment_shard
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    check = None
    if p.feature == "clap":  # VALOR's released CLAP/features are feature maps: a named error
        from vplan_core.features.clap import valor_feature_maps as check
    summary = import_segment_shard(p.feature, read_manifest(snakemake.input.manifest), p.folder, snakemake.output[0],
                                   p.model, p.sampling, p.feature.upper(), check)
    print({key: value for key, value in summary.items() if key != "skipped"},
          f"{len(summary['skipped'])} skipped")
