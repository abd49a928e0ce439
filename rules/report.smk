# The report: the ablation table in the paper's layout (the first family's rows), Table V (the
# other families on the same labels), the pseudo-label quality tables, every cell as mean ± std
# over the seeds, each row's difference from its control marked where beyond seed noise, each
# row's seeds beside its control's, per-class visual F1 of rows 1 and 5, GT-vs-prediction
# timelines; a first paragraph on what the numbers can show; of the rows this config can train,
# with a line naming those it cannot and why. `snakemake --report` bundles it as HTML. The
# template's text (not its place) is a param: an edit reruns the report.


rule report:
    input:
        evals=[job["evaluation"] for job in training_jobs(MODELS)],
        models=[job["model_dir"] for job in training_jobs(MODELS[:1])],
        quality=[job["path"] for job in label_quality_files()],
        manifest=PATHS.manifest_summary,
        annotations=annotation_files(),
    output:
        markdown=report(PATHS.report("report.md"), caption="../vplan_core/templates/captions/report.rst", category="Results",
                        labels={"file": "report"}),
        json=PATHS.report("report.json"),
        per_class=report(PATHS.report("per_class_visual_f1.png"), caption="../vplan_core/templates/captions/per_class.rst",
                         category="Figures", labels={"figure": "per-class visual F1"}),
        seed_points=report(PATHS.report("seed_points.png"), caption="../vplan_core/templates/captions/seed_points.rst",
                           category="Figures", labels={"figure": "seeds against their controls"}),
        timelines=report(PATHS.report("timelines.png"), caption="../vplan_core/templates/captions/timelines.rst",
                         category="Figures", labels={"figure": "timelines"}),
    params:
        models=MODELS,
        jobs=training_jobs(MODELS),
        quality=label_quality_files(),
        skipped_rows=SKIPPED_ROWS,
        annotations=annotation_dir,
        description=DESCRIPTION,
        timeline_clips=config["report"]["timeline_clips"],
        pld_k=config["pld"]["k"],
        pld_alpha=config["pld"]["alpha"],
        dataset=DATASET,
        demo=DEMO,  # the demo's data set: the report says its rows prove the pipeline, not the method
        template=Path(config["report"].get("template") or Path(workflow.basedir, "vplan_core/templates/report.md")).read_text(),
    log:
        PATHS.log("report"),
    benchmark:
        PATHS.benchmark("report")
    conda:
        ENV_REPORT
    script:
        "../workflow_scripts/report.py"
