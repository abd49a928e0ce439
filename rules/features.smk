# Feature extraction per shard into zarr stores: VGGish (audio), a 2D CNN (80 frames at 8 fps),
# R(2+1)D (10 clips of 8 frames), CLIP image embeddings (the middle frame of each second) and
# CLAP audio embeddings, all from one decode of each video. Each store records its model,
# weights (file + sha256, or "random-seed-N"), sampling and fingerprint; the files an extraction
# reads are inputs of its settings file, so a changed file reruns it (in the demo they are made
# by demo_backbones, demo_clip and demo_clap, which therefore run first).
# Which rule makes a store is the plan's answer (vplan_core.plan.feature_sources): a rule is
# defined only for the stores it makes. With dataset.official_features the HAN stores are imported
# from the .npy files the data set's description lays out (released_features; same store paths, so
# training is unchanged; ragged stores where the rows vary with the video: LFAV's); a
# pseudo-label feature's released segment embeddings (dataset.clip_features: CLIP image
# embeddings, dataset.clap_features: CLAP window embeddings) become its store the same way, and
# released feature maps a parser reads (dataset.clap_feature_maps: VALOR's CLAP maps, VALOR++'s
# audio) theirs (without them, the maps are extracted from the videos: features.clap_maps). A
# store is made when a trained parser (models.<name>.inputs) or PLG reads it.

if SOURCES.extracted:

    # One file per extracted feature: its settings (the rule's params) and the sha256 of the
    # weight files it reads (its inputs). It changes exactly when that feature's values would:
    # the readers of the feature's stores depend on it, and on the stores only as ancient inputs.
    rule extraction_settings:
        input:
            files=lambda wildcards: extraction_inputs(config, wildcards.feature),
        output:
            PATHS.extraction_settings("{feature}"),
        wildcard_constraints:
            feature="|".join(SOURCES.extracted),
        params:
            feature=lambda wildcards: wildcards.feature,
            settings=lambda wildcards: extraction_settings(config, wildcards.feature, machine=False),
        log:
            PATHS.log("features/{feature}/settings"),
        benchmark:
            PATHS.benchmark("features/{feature}/settings")
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/extraction_settings.py"

    # One job a shard decodes each video once for every extracted feature. It reruns when any
    # feature's settings file changes, and then extracts only the features whose store carries
    # another fingerprint (features/extract.py refresh_shard): the others' stores are kept
    # (update: Snakemake does not delete them first, and restores them if the job fails).
    # Machine settings rerun nothing: each feature's inference batch size, and decode_workers
    # (DataLoader processes; the job's threads unless --set-resources extract_features:decode_workers=N).
    rule extract_features:
        input:
            shard_video_input,
            manifest=VIDEO_MANIFEST,
            settings=expand(PATHS.extraction_settings("{feature}"), feature=SOURCES.extracted),
        output:
            **{feature: update(directory(PATHS.feature_store(feature, "{shard}"))) for feature in SOURCES.extracted},
        params:
            features=SOURCES.extracted,
        threads: JOB_THREADS
        log:
            PATHS.log("features/shard_{shard}"),
        benchmark:
            PATHS.benchmark("features/shard_{shard}")
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=GPU,
            decode_workers=lambda wildcards, threads: threads,
            **{f"batch_size_{feature}": (lambda wildcards, feature=feature: config["features"][feature].get("batch_size"))
               for feature in SOURCES.extracted},
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
            description=DESCRIPTION,
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


if SOURCES.maps:

    rule import_feature_maps:
        input:
            manifest=PATHS.manifest_shard("{shard}"),
        output:
            directory(PATHS.feature_store("{feature}", "{shard}")),
        wildcard_constraints:
            feature="|".join(SOURCES.maps),
        params:
            feature=lambda wildcards: wildcards.feature,
            folder=lambda wildcards: config["dataset"][FEATURES[wildcards.feature].released],
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
            "../workflow_scripts/import_feature_maps.py"
