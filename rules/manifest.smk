# Every input video accounted for: each shard's videos are probed (decord, PyAV fallback) and
# recorded as used, skipped (with the reason) or missing, before any feature is extracted.


rule probe_shard:
    input:
        shard_video_input,
        annotations=annotation_files(),
    output:
        f"{RESULTS}/manifest/shard_{{shard}}.tsv",
    params:
        video_dir=shard_video_dir,
        annotations=ANNOTATIONS,
        shard_size=SHARD_SIZE,
        min_duration_s=config["sampling"]["min_duration_s"],
    log:
        f"{LOGS}/probe/shard_{{shard}}.log",
    benchmark:
        f"{BENCH}/probe/shard_{{shard}}.tsv"
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/probe_shard.py"


rule manifest:
    input:
        shards=expand(f"{RESULTS}/manifest/shard_{{shard}}.tsv", shard=SHARDS),
        stores=expand(f"{RESULTS}/features/{{feature}}/shard_{{shard}}.zarr", feature=FEATURES, shard=SHARDS),
    output:
        manifest=f"{RESULTS}/manifest.tsv",
        summary=f"{RESULTS}/manifest_summary.json",
    log:
        f"{LOGS}/manifest.log",
    benchmark:
        f"{BENCH}/manifest.tsv"
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/merge_manifest.py"
