# Every input video accounted for: each shard's videos are probed (decord, PyAV fallback) and
# recorded as used, skipped (with the reason) or missing, before any feature is extracted.
# With dataset.official_features the manifest records each video's status from the official
# feature files instead (probe_official_shard); probed videos, if any, then only feed CLIP.

rule probe_shard:
    input:
        shard_video_input,
        annotations=annotation_files(),
    output:
        VIDEO_MANIFEST,
    wildcard_constraints:
        shard=only_if(HAS_FRAMES, r"\d{4}"),
    params:
        video_dir=shard_video_dir,
        annotations=annotation_dir,
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


rule probe_official_shard:
    input:
        annotations=annotation_files(),
    output:
        f"{RESULTS}/manifest/shard_{{shard}}.tsv",
    wildcard_constraints:
        shard=only_if(OFFICIAL, r"\d{4}"),
    params:
        official_dir=OFFICIAL,
        annotations=annotation_dir,
        shard_size=SHARD_SIZE,
    log:
        f"{LOGS}/probe_official/shard_{{shard}}.log",
    benchmark:
        f"{BENCH}/probe_official/shard_{{shard}}.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/probe_official_shard.py"


rule manifest:
    input:
        shards=expand(f"{RESULTS}/manifest/shard_{{shard}}.tsv", shard=SHARDS),
        stores=expand(f"{RESULTS}/features/{{feature}}/shard_{{shard}}.zarr", feature=RUN_FEATURES, shard=SHARDS),
    output:
        manifest=f"{RESULTS}/manifest.tsv",
        summary=f"{RESULTS}/manifest_summary.json",
    params:
        videos=VIDEOS or "",  # files there that no split names are counted as "extra"
    log:
        f"{LOGS}/manifest.log",
    benchmark:
        f"{BENCH}/manifest.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/merge_manifest.py"
