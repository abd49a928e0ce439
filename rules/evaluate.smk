# Evaluation exactly as the community's reference code (docs: metric.md), and pseudo-label
# quality against the dense visual ground truth of val (the paper's Tables I and II, with PLD's
# K and α studied as in its Table II when pld.study names a grid); per group of seeds, each seed
# scored on its own.


rule evaluate_row:
    input:
        model=PATHS.model_dir("{row}", "{seeds}"),
        annotations=annotation_files(),
    output:
        PATHS.evaluation("{row}", "{seeds}"),
    params:
        seeds=job_seeds,
        annotations=annotation_dir,
    log:
        PATHS.log("eval/{row}/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("eval/{row}/seeds_{seeds}")
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/evaluate_row.py"


rule label_quality:
    input:
        plg=PATHS.plg_labels("val"),
        pld=PATHS.pld_dir("{seeds}"),
        annotations=annotation_files(),
    output:
        PATHS.label_quality("{seeds}"),
    params:
        seeds=job_seeds,
        annotations=annotation_dir,
        study=config["pld"].get("study"),
        audio=False,
    log:
        PATHS.log("eval/label_quality/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("eval/label_quality/seeds_{seeds}")
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/label_quality.py"


if OTHER_MODELS:

    use rule evaluate_row as evaluate_parser_row with:
        input:
            model=PATHS.model_dir("{row}", "{seeds}", "{model}"),
            annotations=annotation_files(),
        output:
            PATHS.evaluation("{row}", "{seeds}", "{model}"),
        log:
            PATHS.log("eval/{model}/{row}/seeds_{seeds}"),
        benchmark:
            PATHS.benchmark("eval/{model}/{row}/seeds_{seeds}")


# The audio labels' quality (rows 6-7): the video label as the audio label, CLAP's PLG labels
# and PLD's (from row 6) against the dense audio truth of val.
if AUDIO_PLD_SOURCE_ROW in RUN_ROWS:

    use rule label_quality as label_quality_audio with:
        input:
            plg=PATHS.plg_labels("val", audio=True),
            pld=PATHS.pld_dir("{seeds}", audio=True),
            annotations=annotation_files(),
        output:
            PATHS.label_quality("{seeds}", audio=True),
        params:
            seeds=job_seeds,
            annotations=annotation_dir,
            study=None,
            audio=True,
        log:
            PATHS.log("eval/label_quality_audio/seeds_{seeds}"),
        benchmark:
            PATHS.benchmark("eval/label_quality_audio/seeds_{seeds}")
