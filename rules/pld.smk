# PLD (Eq. 10-11): each seed's stage-1 model (row 4) scores every PLG label by its forward loss;
# within each video's visual classes, segments whose loss exceeds alpha x the mean of the K
# smallest are flipped. The refined labels feed that seed's row 5 (train split) and the
# label-quality table (val split); the seeds of a group are scored as one batched model.


rule pld_labels:
    input:
        unpack(lambda wildcards: han_feature_inputs()),
        model=PATHS.model_dir(PLD_SOURCE_ROW, "{seeds}"),
        train_labels=PATHS.plg_labels("train"),
        val_labels=PATHS.plg_labels("val"),
        annotations=annotation_files(),
    output:
        directory(PATHS.pld_dir("{seeds}")),
    params:
        k=config["pld"]["k"],
        alpha=config["pld"]["alpha"],
        seeds=job_seeds,
        annotations=annotation_dir,
    threads: JOB_THREADS
    log:
        PATHS.log("pld/seeds_{seeds}"),
    benchmark:
        PATHS.benchmark("pld/seeds_{seeds}")
    resources:
        mem_mb=16000,
        gpu=GPU,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/pld_labels.py"


# A family whose own row-4 models refine its labels (models.<model>.pld_source: own).
if OWN_PLD_MODELS:

    use rule pld_labels as pld_parser_labels with:
        input:
            unpack(lambda wildcards: han_feature_inputs()),
            model=PATHS.model_dir(PLD_SOURCE_ROW, "{seeds}", "{model}"),
            train_labels=PATHS.plg_labels("train"),
            val_labels=PATHS.plg_labels("val"),
            annotations=annotation_files(),
        output:
            directory(PATHS.pld_dir("{seeds}", "{model}")),
        wildcard_constraints:
            model="|".join(OWN_PLD_MODELS),
        log:
            PATHS.log("pld/{model}/seeds_{seeds}"),
        benchmark:
            PATHS.benchmark("pld/{model}/seeds_{seeds}")


# Row 7: PLD on both modalities, each seed's row-6 model refining the visual labels with its P^v
# and the audio labels with its P^a (the same rule, K and alpha).
if AUDIO_PLD_SOURCE_ROW in RUN_ROWS:

    use rule pld_labels as pld_av_labels with:
        input:
            unpack(lambda wildcards: han_feature_inputs()),
            model=PATHS.model_dir(AUDIO_PLD_SOURCE_ROW, "{seeds}"),
            train_labels=PATHS.plg_labels("train"),
            val_labels=PATHS.plg_labels("val"),
            train_audio_labels=PATHS.plg_labels("train", audio=True),
            val_audio_labels=PATHS.plg_labels("val", audio=True),
            annotations=annotation_files(),
        output:
            directory(PATHS.pld_dir("{seeds}", audio=True)),
        log:
            PATHS.log("pld_av/seeds_{seeds}"),
        benchmark:
            PATHS.benchmark("pld_av/seeds_{seeds}")
