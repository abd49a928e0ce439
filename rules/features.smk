# Feature extraction per shard into zarr stores: VGGish (audio), a 2D CNN (80 frames at 8 fps),
# R(2+1)D (10 clips of 8 frames) and CLIP image embeddings (the middle frame of each second).
# Each store records its model, weights (file + sha256, or "random-seed-N") and sampling; a
# weight file is an input, so a changed file reruns its extraction (in the demo the files are
# made by demo_backbones, which therefore runs first).
# With dataset.official_features the three HAN stores are imported from the official .npy files
# instead (same store paths, so training is unchanged); the wildcard constraints (only_if) let
# exactly one rule produce each store. Released CLIP image embeddings (dataset.clip_features)
# become the clip store the same way (import_clip_features).

rule extract_features:
    input:
        shard_video_input,
        manifest=VIDEO_MANIFEST,
        clip=lambda wildcards: clip_inputs() if wildcards.feature == "clip" else [],
        weights=weight_file_inputs,
    output:
        directory(f"{RESULTS}/features/{{feature}}/shard_{{shard}}.zarr"),
    wildcard_constraints:
        feature=only_if(EXTRACTED_FEATURES, "|".join(EXTRACTED_FEATURES)),
    params:
        settings=lambda wildcards: extraction_settings(config, wildcards.feature),
    threads: JOB_THREADS
    log:
        f"{LOGS}/features/{{feature}}/shard_{{shard}}.log",
    benchmark:
        f"{BENCH}/features/{{feature}}/shard_{{shard}}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPU,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/extract_features.py"


rule import_official_features:
    input:
        manifest=f"{RESULTS}/manifest/shard_{{shard}}.tsv",
    output:
        directory(f"{RESULTS}/features/{{feature}}/shard_{{shard}}.zarr"),
    wildcard_constraints:
        feature=only_if(IMPORTED_FEATURES, "|".join(IMPORTED_FEATURES)),
    params:
        official_dir=OFFICIAL,
    log:
        f"{LOGS}/features/{{feature}}/shard_{{shard}}.log",
    benchmark:
        f"{BENCH}/features/{{feature}}/shard_{{shard}}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/import_official_features.py"


rule import_clip_features:
    input:
        manifest=f"{RESULTS}/manifest/shard_{{shard}}.tsv",
    output:
        directory(f"{RESULTS}/features/clip/shard_{{shard}}.zarr"),
    wildcard_constraints:
        shard=only_if(CLIP_IMPORTED, r"\d{4}"),
    params:
        clip_dir=CLIP_FEATURES,
        model_name=config["features"]["clip"]["model_name"],
        frame_rule=config["dataset"].get("clip_frame_rule", "unknown"),
    log:
        f"{LOGS}/features/clip/shard_{{shard}}.log",
    benchmark:
        f"{BENCH}/features/clip/shard_{{shard}}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/import_clip_features.py"
