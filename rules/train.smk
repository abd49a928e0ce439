# Training of the ablation rows (Table III): one rule, the row's loss and label source are
# configuration (vplan_core.ablation.ROWS). Row 5 trains on the PLD-refined labels.


rule train_row:
    input:
        unpack(row_label_input),
        unpack(lambda wildcards: han_feature_inputs()),
        annotations=annotation_files(),
    output:
        model=f"{RESULTS}/models/{{row}}/model.pt",
        history=f"{RESULTS}/models/{{row}}/history.json",
        test_pred=f"{RESULTS}/models/{{row}}/test_pred.npz",
    params:
        settings=lambda wildcards: train_settings(wildcards.row),
        annotations=annotation_dir,
    threads: 2
    log:
        f"{LOGS}/train/{{row}}.log",
    benchmark:
        f"{BENCH}/train/{{row}}.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/train_row.py"
