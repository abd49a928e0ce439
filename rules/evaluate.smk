# Evaluation exactly as the community's reference code (docs: metric.md), and pseudo-label
# quality against the dense visual ground truth of val (the paper's Tables I and II, with PLD's
# K and α studied as in its Table II when pld.study names a grid); per group of seeds, each seed
# scored on its own.


rule evaluate_row:
    input:
        model=model_dir("{row}", "{seeds}"),
        annotations=annotation_files(),
    output:
        f"{RESULTS}/eval/{{row}}/seeds_{{seeds}}.json",
    params:
        seeds=job_seeds,
        annotations=annotation_dir,
    log:
        f"{LOGS}/eval/{{row}}/seeds_{{seeds}}.log",
    benchmark:
        f"{BENCH}/eval/{{row}}/seeds_{{seeds}}.tsv"
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/evaluate_row.py"


rule label_quality:
    input:
        plg=f"{RESULTS}/labels/plg/val.npz",
        pld=pld_dir("{seeds}"),
        annotations=annotation_files(),
    output:
        f"{RESULTS}/eval/label_quality/seeds_{{seeds}}.json",
    params:
        seeds=job_seeds,
        annotations=annotation_dir,
        study=config["pld"].get("study"),
    log:
        f"{LOGS}/eval/label_quality/seeds_{{seeds}}.log",
    benchmark:
        f"{BENCH}/eval/label_quality/seeds_{{seeds}}.tsv"
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/label_quality.py"
