# The report: the ablation table in the paper's layout, the pseudo-label quality tables, per-class
# visual F1 of rows 1 and 5, GT-vs-prediction timelines. `snakemake --report` bundles it as HTML.


rule report:
    input:
        evals=expand(f"{RESULTS}/eval/{{row}}.json", row=ROWS),
        preds=expand(f"{RESULTS}/models/{{row}}/test_pred.npz", row=["row1_han", "row5_vplan"]),
        histories=expand(f"{RESULTS}/models/{{row}}/history.json", row=ROWS),
        quality=f"{RESULTS}/eval/label_quality.json",
        manifest=f"{RESULTS}/manifest_summary.json",
        annotations=annotation_files(),
        template=config["report"].get("template") or repo_path("vplan_core/templates/report.md"),
    output:
        markdown=report(f"{RESULTS}/report/report.md", category="Results", labels={"file": "report"}),
        json=f"{RESULTS}/report/report.json",
        per_class=report(f"{RESULTS}/report/per_class_visual_f1.png", category="Figures", labels={"figure": "per-class visual F1"}),
        timelines=report(f"{RESULTS}/report/timelines.png", category="Figures", labels={"figure": "timelines"}),
    params:
        annotations=annotation_dir,
        timeline_clips=config["report"]["timeline_clips"],
        dataset=DATASET,
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    conda:
        ENV_REPORT
    script:
        "../workflow_scripts/report.py"
