# Feature extraction per shard into zarr stores: VGGish (audio), a 2D CNN (80 frames at 8 fps),
# R(2+1)D (10 clips of 8 frames) and CLIP image embeddings (the middle frame of each second).
# Each store records its model, weights (file + sha256, or "random-seed-N") and sampling; a
# weight file is an input, so a changed file reruns its extraction (in the demo the files are
# made by demo_backbones, which therefore runs first).
# With dataset.official_features the three HAN stores are imported from the official .npy files
# instead (same store paths, so training is unchanged); the wildcard constraints (only_if) let
# exactly one rule produce each store. skipped_rows notes the rows a config cannot train.

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
        settings=extraction_settings,
    threads: 2
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


rule skipped_rows:
    output:
        f"{RESULTS}/eval/skipped_rows.json",
    params:
        skipped=SKIPPED_ROWS,
        run=RUN_ROWS,
    log:
        f"{LOGS}/eval/skipped_rows.log",
    benchmark:
        f"{BENCH}/eval/skipped_rows.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/skipped_rows.py"
