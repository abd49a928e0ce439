# PLG (Eq. 3-4): CLIP text embeddings of the prompt for every class, softmax over raw cosine
# similarities with each segment's frame embedding, threshold tau, masked by the video label.


rule clip_text_embeddings:
    input:
        extraction_inputs(config, "clip"),
    output:
        PATHS.text_embeddings,
    params:
        clip={key: config["features"]["clip"].get(key) for key in ("model_name", "checkpoint", "config_file")},
        prompt=config["plg"]["prompt"],
    log:
        PATHS.log("plg/text_embeddings"),
    benchmark:
        PATHS.benchmark("plg/text_embeddings")
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/clip_text_embeddings.py"


rule plg_labels:
    input:
        text=PATHS.text_embeddings,
        images=feature_stores("clip"),
        annotations=annotation_files(),
    output:
        PATHS.plg_labels("{split}"),
    params:
        tau=config["plg"]["tau"],
        annotations=annotation_dir,
    log:
        PATHS.log("plg/labels_{split}"),
    benchmark:
        PATHS.benchmark("plg/labels_{split}")
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/plg_labels.py"


# Audio PLG (rows 6-7; plg.audio): CLAP text embeddings of the audio prompt for every class, and
# each segment's CLAP embedding of its one-second window (features.smk: the clap store); the
# same softmax-tau rule as the visual labels, or VALOR's per-class logit thresholds.
if SOURCES.audio_plg:

    rule clap_text_embeddings:
        input:
            extraction_inputs(config, "clap"),
        output:
            PATHS.audio_text_embeddings,
        params:
            clap=clap_settings(),
            prompt=config["plg"]["audio"].get("prompt", AUDIO_PROMPT),
        log:
            PATHS.log("plg/clap_text_embeddings"),
        benchmark:
            PATHS.benchmark("plg/clap_text_embeddings")
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/clap_text_embeddings.py"

    rule plg_audio_labels:
        input:
            text=PATHS.audio_text_embeddings,
            audio=feature_stores("clap"),
            annotations=annotation_files(),
        output:
            PATHS.plg_labels("{split}", audio=True),
        params:
            rule=config["plg"]["audio"].get("rule", "softmax"),
            tau=config["plg"]["audio"].get("tau", config["plg"]["tau"]),
            annotations=annotation_dir,
        log:
            PATHS.log("plg/audio_labels_{split}"),
        benchmark:
            PATHS.benchmark("plg/audio_labels_{split}")
        conda:
            ENV_TRAIN
        script:
            "../workflow_scripts/plg_audio_labels.py"
