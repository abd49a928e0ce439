"""Write one shard of released feature maps of the whole clip (VALOR's CLAP/features, dataset key
clap_feature_maps) as that feature's store, each file checked against the spec's shape."""
from vplan_core.data.manifest import read_manifest
from vplan_core.data.official import import_map_shard
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    summary = import_map_shard(p.feature, read_manifest(snakemake.input.manifest), p.folder, snakemake.output[0])
    print({key: value for key, value in summary.items() if key != "skipped"},
          f"{len(summary['skipped'])} skipped")
