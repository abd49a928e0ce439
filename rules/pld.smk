# PLD (Eq. 10-11): the stage-1 model (row 4) scores every PLG label by its forward loss; within
# each video's visual classes, segments whose loss exceeds alpha x the mean of the K smallest are
# flipped. The refined labels feed row 5 (train split) and the label-quality table (val split).


rule pld_labels:
    input:
        unpack(lambda wildcards: han_feature_inputs()),
        model=f"{RESULTS}/models/{PLD_SOURCE_ROW}/model.pt",
        labels=f"{RESULTS}/labels/plg/{{split}}.npz",
        annotations=annotation_files(),
    output:
        f"{RESULTS}/labels/pld/{{split}}.npz",
    params:
        k=config["pld"]["k"],
        alpha=config["pld"]["alpha"],
        annotations=annotation_dir,
    threads: 2
    log:
        f"{LOGS}/pld/{{split}}.log",
    benchmark:
        f"{BENCH}/pld/{{split}}.tsv"
    resources:
        mem_mb=16000,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/pld_labels.py"
