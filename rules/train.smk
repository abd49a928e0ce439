# Training, as in the method's Fig. 2: a stage-1 row trains on the video labels or PLG's segment
# labels; PLD (rules/pld.smk) refines a stage-1 row's labels with each seed's own model of it; a
# stage-2 row retrains on them. What a row trains on and with which loss is its description
# (vplan_core.method.ablation.ROWS), turned into this job's inputs and settings by the plan
# (vplan_core.plan.row_job). Each job trains one group of seeds of one parser family
# (train.models) as one batched model.


rule train_row:
    input:
        unpack(lambda wildcards: training_job(wildcards).inputs),
        unpack(lambda wildcards: parser_feature_inputs(wildcards.model)),
        annotations=annotation_files(),
    output:
        directory(PATHS.model_dir("{row}", "{seeds}", "{model}")),
    params:
        labels=lambda wildcards: training_job(wildcards).params["labels"],
        settings=lambda wildcards: training_job(wildcards).params["settings"],
        resume=lambda wildcards: training_job(wildcards).params["resume"],
        seeds=job_seeds,
        row=lambda wildcards: wildcards.row,
        annotations=annotation_dir,
        description=DESCRIPTION,
    threads: JOB_THREADS
    log:
        PATHS.log("train/{model}/{row}/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("train/{model}/{row}/seeds_{seeds}")
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/train_row.py"
