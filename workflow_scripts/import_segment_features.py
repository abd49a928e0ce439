"""Write one shard of a pseudo-label feature's released segment embeddings (its dataset key:
clip_features, clap_features) as that feature's store; a released file of another kind (VALOR's
CLAP feature maps) is refused by name, as the feature's spec says."""
from vplan_core.data.description import describe
from vplan_core.data.manifest import read_manifest
from vplan_core.data.official import import_segment_shard
from vplan_core.feature_registry import feature
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    summary = import_segment_shard(p.feature, read_manifest(snakemake.input.manifest), p.release["folder"],
                                   snakemake.output[0], p.release["model"], p.release["sampling"], p.feature.upper(),
                                   feature(p.feature).labels.check_released(), describe(p.description))
    print({key: value for key, value in summary.items() if key != "skipped"},
          f"{len(summary['skipped'])} skipped")
