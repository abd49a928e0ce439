# Feature extraction per shard into zarr stores: VGGish (audio), a 2D CNN (80 frames at 8 fps),
# R(2+1)D (10 clips of 8 frames) and CLIP image embeddings (the middle frame of each second).
# Each store records its model, weights (file + sha256, or "random-seed-N") and sampling.


rule extract_features:
    input:
        shard_video_input,
        manifest=f"{RESULTS}/manifest/shard_{{shard}}.tsv",
        clip=lambda wildcards: clip_inputs() if wildcards.feature == "clip" else [],
    output:
        directory(f"{RESULTS}/features/{{feature}}/shard_{{shard}}.zarr"),
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
