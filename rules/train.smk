# Training of the ablation rows (Table III): one rule, the row's loss and label source are
# configuration (vplan_core.method.ablation.ROWS). Each job trains one group of seeds as one batched
# model; row 5 trains each seed on the PLD labels of that seed's row-4 model.


rule train_row:
    input:
        unpack(row_label_input),
        unpack(lambda wildcards: han_feature_inputs()),
        annotations=annotation_files(),
    output:
        directory(model_dir("{row}", "{seeds}")),
    params:
        settings=lambda wildcards: train_settings(config, ROWS[wildcards.row].loss),
        seeds=job_seeds,
        row=lambda wildcards: wildcards.row,
        resume=lambda wildcards: f"{model_dir(wildcards.row, wildcards.seeds)}.resume.pt",
        annotations=annotation_dir,
    threads: JOB_THREADS
    log:
        f"{LOGS}/train/{{row}}/seeds_{{seeds}}.log",
    benchmark:
        f"{BENCH}/train/{{row}}/seeds_{{seeds}}.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/train_row.py"
