# The report: the ablation table in the paper's layout and the pseudo-label quality tables, every
# cell as mean ± std over the seeds, per-class visual F1 of rows 1 and 5, GT-vs-prediction
# timelines; of the rows this config can train, with a line naming those it cannot and why.
# `snakemake --report` bundles it as HTML.


rule report:
    input:
        evals=[job["evaluation"] for job in report_jobs(RUN_ROWS)],
        models=[job["model_dir"] for job in report_jobs(RUN_ROWS)],
        parsers=[job["evaluation"] for job in parser_jobs()],
        quality=quality_inputs(),
        audio_quality=quality_inputs(audio=True),
        manifest=PATHS.manifest_summary,
        annotations=annotation_files(),
        template=config["report"].get("template") or repo_path("vplan_core/templates/report.md"),
    output:
        markdown=report(PATHS.report("report.md"), caption="../vplan_core/templates/captions/report.rst", category="Results",
                        labels={"file": "report"}),
        json=PATHS.report("report.json"),
        per_class=report(PATHS.report("per_class_visual_f1.png"), caption="../vplan_core/templates/captions/per_class.rst",
                         category="Figures", labels={"figure": "per-class visual F1"}),
        timelines=report(PATHS.report("timelines.png"), caption="../vplan_core/templates/captions/timelines.rst",
                         category="Figures", labels={"figure": "timelines"}),
    params:
        rows=RUN_ROWS,
        jobs=report_jobs(RUN_ROWS),
        parser_jobs=parser_jobs(),
        skipped_rows=SKIPPED_ROWS,
        annotations=annotation_dir,
        timeline_clips=config["report"]["timeline_clips"],
        pld_k=config["pld"]["k"],
        pld_alpha=config["pld"]["alpha"],
        dataset=DATASET,
    log:
        PATHS.log("report"),
    benchmark:
        PATHS.benchmark("report")
    conda:
        ENV_REPORT
    script:
        "../workflow_scripts/report.py"
