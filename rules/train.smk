# Training of the ablation rows (Table III), as in the method's Fig. 2: stage 1 trains on the
# video labels (row 1) or PLG's segment labels (rows 2-4); PLD (rules/pld.smk) refines the labels
# with each seed's row-4 model; stage 2 retrains on them (row 5, VPLAN). A row's loss and label
# source are configuration (vplan_core.method.ablation.ROWS). Each job trains one group of seeds
# as one batched model.


rule train_row:
    input:
        unpack(row_label_input),
        unpack(lambda wildcards: han_feature_inputs()),
        annotations=annotation_files(),
    output:
        directory(PATHS.model_dir("{row}", "{seeds}")),
    wildcard_constraints:
        row="|".join(STAGE1_ROWS),
    params:
        settings=row_settings,
        seeds=job_seeds,
        row=lambda wildcards: wildcards.row,
        resume=lambda wildcards: PATHS.resume_file(wildcards.row, wildcards.seeds, job_model(wildcards)),
        annotations=annotation_dir,
    threads: JOB_THREADS
    log:
        PATHS.log("train/{row}/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("train/{row}/seeds_{seeds}")
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/train_row.py"


# Stage 2: each seed retrains on the PLD labels of that seed's own stage-1 model.
use rule train_row as retrain_row with:
    wildcard_constraints:
        row="|".join(STAGE2_ROWS),


# Other parser families (train.models; Table V) train the same rows on the same labels, each in
# a folder of its own (vplan_core.paths); by default their stage 2 retrains on the labels PLD
# made with HAN's row-4 models, as the paper's Table V did.
if OTHER_MODELS:

    use rule train_row as train_parser_row with:
        output:
            directory(PATHS.model_dir("{row}", "{seeds}", "{model}")),
        log:
            PATHS.log("train/{model}/{row}/seeds_{seeds}"),
        benchmark:
            PATHS.benchmark("train/{model}/{row}/seeds_{seeds}")

    use rule retrain_row as retrain_parser_row with:
        output:
            directory(PATHS.model_dir("{row}", "{seeds}", "{model}")),
        log:
            PATHS.log("train/{model}/{row}/seeds_{seeds}"),
        benchmark:
            PATHS.benchmark("train/{model}/{row}/seeds_{seeds}")
