# Feature extraction per shard into zarr stores: VGGish (audio), a 2D CNN (80 frames at 8 fps),
# R(2+1)D (10 clips of 8 frames) and CLIP image embeddings (the middle frame of each second).
# Each store records its model, weights (file + sha256, or "random-seed-N") and sampling; the
# files an extraction reads are its inputs, so a changed file reruns it (in the demo they are
# made by demo_backbones and demo_clip, which therefore run first).
# Which rule makes a store is the plan's answer (vplan_core.plan.feature_sources): a rule is
# defined only for the stores it makes. With dataset.official_features the three HAN stores are
# imported from the official .npy files (same store paths, so training is unchanged); a
# pseudo-label feature's released segment embeddings (dataset.clip_features: CLIP image
# embeddings, dataset.clap_features: CLAP window embeddings) become its store the same way.

if SOURCES.extracted:

    rule extract_features:
        input:
            shard_video_input,
            manifest=VIDEO_MANIFEST,
            files=lambda wildcards: extraction_inputs(config, wildcards.feature),
        output:
            directory(PATHS.feature_store("{feature}", "{shard}")),
        wildcard_constraints:
            feature="|".join(SOURCES.extracted),
        params:
            settings=lambda wildcards: extraction_settings(config, wildcards.feature, machine=False),
        threads: JOB_THREADS
        log:
            PATHS.log("features/{feature}/shard_{shard}"),
        benchmark:
            PATHS.benchmark("features/{feature}/shard_{shard}")
        # the inference batch size changes no value: a resource (plan.EXTRACTION_MACHINE_KEYS), so a
        # new one reruns nothing; unset, the extractor's default
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=GPU,
            batch_size=lambda wildcards: config["features"][wildcards.feature].get("batch_size"),
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/extract_features.py"


if SOURCES.official:

    rule import_official_features:
        input:
            manifest=PATHS.manifest_shard("{shard}"),
        output:
            directory(PATHS.feature_store("{feature}", "{shard}")),
        wildcard_constraints:
            feature="|".join(SOURCES.official),
        params:
            official_dir=config["dataset"].get("official_features"),
        log:
            PATHS.log("features/{feature}/shard_{shard}"),
        benchmark:
            PATHS.benchmark("features/{feature}/shard_{shard}")
        resources:
            mem_mb=4000,
            runtime=30,
            gpu=0,
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/import_official_features.py"


if SOURCES.released:

    rule import_segment_features:
        input:
            manifest=PATHS.manifest_shard("{shard}"),
        output:
            directory(PATHS.feature_store("{feature}", "{shard}")),
        wildcard_constraints:
            feature="|".join(SOURCES.released),
        params:
            feature=lambda wildcards: wildcards.feature,
            release=lambda wildcards: released_settings(config, wildcards.feature),
        log:
            PATHS.log("features/{feature}/shard_{shard}"),
        benchmark:
            PATHS.benchmark("features/{feature}/shard_{shard}")
        resources:
            mem_mb=4000,
            runtime=30,
            gpu=0,
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/import_segment_features.py"
