# Evaluation exactly as the community's reference code (docs/metric.md), and pseudo-label
# quality against the dense ground truth of val (the paper's Tables I and II, with PLD's K and α
# studied as in its Table II when pld.study names a grid); per group of seeds, each seed scored
# on its own.


rule evaluate_row:
    input:
        model=PATHS.model_dir("{row}", "{seeds}", "{model}"),
        annotations=annotation_files(),
    output:
        PATHS.evaluation("{row}", "{seeds}", "{model}"),
    params:
        seeds=job_seeds,
        annotations=annotation_dir,
        description=DESCRIPTION,
    log:
        PATHS.log("eval/{model}/{row}/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("eval/{model}/{row}/seeds_{seeds}")
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/evaluate_row.py"


# One modality's labels that a stage-1 row trained on (PLG's or VALOR's released ones) and PLD's
# refinement of them with that row's models (the jobs: vplan_core.plan.quality_jobs).
rule label_quality:
    input:
        unpack(lambda wildcards: quality_check_job(wildcards).inputs),
        annotations=annotation_files(),
    output:
        PATHS.label_quality("{model}", "{stage1}", "{modality}", "{seeds}"),
    params:
        modality=lambda wildcards: quality_check_job(wildcards).params["modality"],
        source=lambda wildcards: quality_check_job(wildcards).params["source"],
        study=lambda wildcards: quality_check_job(wildcards).params["study"],
        seeds=job_seeds,
        annotations=annotation_dir,
        description=DESCRIPTION,
    log:
        PATHS.log("eval/label_quality/{model}/{stage1}/{modality}/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("eval/label_quality/{model}/{stage1}/{modality}/seeds_{seeds}")
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/label_quality.py"
