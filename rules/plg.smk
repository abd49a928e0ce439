# PLG (Eq. 3-4): CLIP text embeddings of the prompt for every class, softmax over raw cosine
# similarities with each segment's frame embedding, threshold tau, masked by the video label.


rule clip_text_embeddings:
    input:
        clip_inputs(),
    output:
        f"{RESULTS}/plg/text_embeddings.npz",
    params:
        clip={key: config["features"]["clip"].get(key) for key in ("model_name", "checkpoint", "config_file")},
        prompt=config["plg"]["prompt"],
    log:
        f"{LOGS}/plg/text_embeddings.log",
    benchmark:
        f"{BENCH}/plg/text_embeddings.tsv"
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/clip_text_embeddings.py"


rule plg_labels:
    input:
        text=f"{RESULTS}/plg/text_embeddings.npz",
        images=feature_stores("clip"),
        annotations=annotation_files(),
    output:
        f"{RESULTS}/labels/plg/{{split}}.npz",
    params:
        tau=config["plg"]["tau"],
        annotations=annotation_dir,
    log:
        f"{LOGS}/plg/labels_{{split}}.log",
    benchmark:
        f"{BENCH}/plg/labels_{{split}}.tsv"
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/plg_labels.py"
