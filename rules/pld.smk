# PLD (Eq. 10-11): each seed's model of a stage-1 row scores every PLG label that row trained on
# by its forward loss; within each video's classes, segments whose loss exceeds alpha x the mean
# of the K smallest are flipped, each modality with its own P (P^v, P^a). The refined labels feed
# that seed's stage-2 rows (train split) and the label-quality tables (val split); the seeds of
# a group are scored as one batched model. A PLD job runs when a trained row's labels name it
# (vplan_core.plan.label_input); its inputs are the plan's answer (vplan_core.plan.pld_job).


rule pld_labels:
    input:
        unpack(lambda wildcards: refinement_job(wildcards).inputs),
        unpack(lambda wildcards: parser_feature_inputs(wildcards.model)),
        annotations=annotation_files(),
    output:
        directory(PATHS.pld_dir("{model}", "{stage1}", "{seeds}")),
    params:
        modalities=lambda wildcards: refinement_job(wildcards).params["modalities"],
        k=config["pld"]["k"],
        alpha=config["pld"]["alpha"],
        seeds=job_seeds,
        annotations=annotation_dir,
        description=DESCRIPTION,
    threads: JOB_THREADS
    log:
        PATHS.log("pld/{model}/{stage1}/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("pld/{model}/{stage1}/seeds_{seeds}")
    resources:
        mem_mb=16000,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/pld_labels.py"
