# Every input video accounted for: each shard's videos are probed (decord, PyAV fallback) and
# recorded as used, skipped (with the reason) or missing, before any feature is extracted.
# With dataset.official_features the manifest records each video's status from the official
# feature files instead (probe_official_shard); probed videos, if any, then only feed CLIP.

if SOURCES.probes_videos:

    rule probe_shard:
        input:
            shard_video_input,
            annotations=annotation_files(),
        output:
            VIDEO_MANIFEST,
        params:
            video_dir=shard_video_dir,
            annotations=annotation_dir,
            description=DESCRIPTION,
            shard_size=SHARD_SIZE,
            min_duration_s=config["sampling"]["min_duration_s"],
            min_audio_s=config["sampling"]["min_audio_s"],
        log:
            PATHS.log("probe/shard_{shard}"),
        benchmark:
            PATHS.benchmark("probe/shard_{shard}")
        resources:
            mem_mb=1000,
            runtime=30,
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/probe_shard.py"


if SOURCES.manifest_producer == "probe_official_shard":

    rule probe_official_shard:
        input:
            annotations=annotation_files(),
        output:
            PATHS.manifest_shard("{shard}"),
        params:
            official_dir=config["dataset"].get("official_features"),
            annotations=annotation_dir,
            description=DESCRIPTION,
            shard_size=SHARD_SIZE,
        log:
            PATHS.log("probe_official/shard_{shard}"),
        benchmark:
            PATHS.benchmark("probe_official/shard_{shard}")
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/probe_official_shard.py"


rule manifest:
    input:
        shards=expand(PATHS.manifest_shard("{shard}"), shard=SHARDS),
        stores=[store for feature in SOURCES.features for store in feature_stores(feature)],
        provenance=feature_provenance(SOURCES.features),
    output:
        manifest=PATHS.manifest,
        summary=PATHS.manifest_summary,
    params:
        videos=VIDEOS or "",  # files there that no split names are counted as "extra"
    log:
        PATHS.log("manifest"),
    benchmark:
        PATHS.benchmark("manifest")
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/merge_manifest.py"
