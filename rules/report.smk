# The report: the ablation table in the paper's layout and the pseudo-label quality tables, every
# cell as mean ± std over the seeds, per-class visual F1 of rows 1 and 5, GT-vs-prediction
# timelines; of the rows this config can train, with a line naming those it cannot and why.
# `snakemake --report` bundles it as HTML.


rule report:
    input:
        evals=row_evaluations(RUN_ROWS),
        models=expand(model_dir("{row}", "{seeds}"), row=RUN_ROWS, seeds=SEED_GROUPS),
        quality=quality_inputs(),
        manifest=f"{RESULTS}/manifest_summary.json",
        annotations=annotation_files(),
        template=config["report"].get("template") or repo_path("vplan_core/templates/report.md"),
    output:
        markdown=report(f"{RESULTS}/report/report.md", caption="../vplan_core/templates/captions/report.rst", category="Results",
                        labels={"file": "report"}),
        json=f"{RESULTS}/report/report.json",
        per_class=report(f"{RESULTS}/report/per_class_visual_f1.png", caption="../vplan_core/templates/captions/per_class.rst",
                         category="Figures", labels={"figure": "per-class visual F1"}),
        timelines=report(f"{RESULTS}/report/timelines.png", caption="../vplan_core/templates/captions/timelines.rst",
                         category="Figures", labels={"figure": "timelines"}),
    params:
        rows=RUN_ROWS,
        skipped_rows=SKIPPED_ROWS,
        seed_groups=SEED_GROUPS,
        annotations=annotation_dir,
        timeline_clips=config["report"]["timeline_clips"],
        pld_k=config["pld"]["k"],
        pld_alpha=config["pld"]["alpha"],
        dataset=DATASET,
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    conda:
        ENV_REPORT
    script:
        "../workflow_scripts/report.py"
