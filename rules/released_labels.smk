# VALOR's released segment pseudo labels (dataset.released_labels: CLIP.zip's visual labels,
# CLAP.zip's audio ones, as published or unzipped) as a label source beside PLG: one labels npz
# a modality and split, for the split's videos, with a record of those the release lacks
# (vplan_core.data.released_labels). The release's fingerprint is a param, so changed label
# files rerun the import and the rows on those labels, and nothing else.

if SOURCES.released_labels:

    rule import_released_labels:
        input:
            annotations=annotation_files(),
        output:
            labels=PATHS.released_labels("{modality}", "{split}"),
            summary=PATHS.released_labels_summary("{modality}", "{split}"),
        wildcard_constraints:
            modality="|".join(SOURCES.released_labels),
        params:
            release=lambda wildcards: released_label_settings(config, wildcards.modality),
            annotations=annotation_dir,
            description=DESCRIPTION,
        log:
            PATHS.log("labels/released/{modality}/{split}"),
        benchmark:
            PATHS.benchmark("labels/released/{modality}/{split}")
        resources:
            mem_mb=2000,
            runtime=30,
            gpu=0,
        conda:
            ENV_TRAIN
        script:
            "../workflow_scripts/import_released_labels.py"
