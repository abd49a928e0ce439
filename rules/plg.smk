# PLG (Eq. 3-4), for each pseudo-label feature of the run (vplan_core.feature_registry: CLIP
# labels visual segments, CLAP audio ones): its text tower embeds the prompt for every class;
# each segment's embedding is scored against them (softmax over raw cosine similarities and
# threshold tau, or VALOR's per-class logit thresholds) and masked by the video label.

if SOURCES.pseudo_label_features:

    rule text_embeddings:
        input:
            lambda wildcards: extraction_inputs(config, wildcards.feature),
        output:
            PATHS.text_embeddings("{feature}"),
        wildcard_constraints:
            feature="|".join(SOURCES.pseudo_label_features),
        params:
            model=lambda wildcards: text_settings(config, wildcards.feature),
            prompt=lambda wildcards: plg_settings(config, wildcards.feature)["prompt"],
            description=DESCRIPTION,
        log:
            PATHS.log("plg/{feature}/text_embeddings"),
        benchmark:
            PATHS.benchmark("plg/{feature}/text_embeddings")
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/text_embeddings.py"

    rule plg_labels:
        input:
            text=PATHS.text_embeddings("{feature}"),
            segments=lambda wildcards: feature_stores(wildcards.feature),
            provenance=lambda wildcards: feature_provenance([wildcards.feature]),
            annotations=annotation_files(),
        output:
            PATHS.plg_labels("{feature}", "{split}"),
        wildcard_constraints:
            feature="|".join(SOURCES.pseudo_label_features),
        params:
            settings=lambda wildcards: {key: value for key, value in plg_settings(config, wildcards.feature).items()
                                        if key != "prompt"},
            annotations=annotation_dir,
            description=DESCRIPTION,
        log:
            PATHS.log("plg/{feature}/labels_{split}"),
        benchmark:
            PATHS.benchmark("plg/{feature}/labels_{split}")
        conda:
            ENV_TRAIN
        script:
            "../workflow_scripts/plg_labels.py"
