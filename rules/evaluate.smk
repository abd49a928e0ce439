# Evaluation exactly as the community's reference code (docs: metric.md), and pseudo-label
# quality against the dense visual ground truth of val (the paper's Tables I and II).


rule evaluate_row:
    input:
        pred=f"{RESULTS}/models/{{row}}/test_pred.npz",
        annotations=annotation_files(),
    output:
        f"{RESULTS}/eval/{{row}}.json",
    params:
        annotations=annotation_dir,
    log:
        f"{LOGS}/eval/{{row}}.log",
    benchmark:
        f"{BENCH}/eval/{{row}}.tsv"
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/evaluate_row.py"


rule label_quality:
    input:
        plg=f"{RESULTS}/labels/plg/val.npz",
        pld=f"{RESULTS}/labels/pld/val.npz",
        annotations=annotation_files(),
    output:
        f"{RESULTS}/eval/label_quality.json",
    params:
        annotations=annotation_dir,
    log:
        f"{LOGS}/eval/label_quality.log",
    benchmark:
        f"{BENCH}/eval/label_quality.tsv"
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/label_quality.py"
