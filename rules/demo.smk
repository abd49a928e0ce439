# The embedded demo: a synthetic mini-LLP (real mp4 files + LLP-format csv files), a small CLIP
# trained on synthetic object images and backbones pretrained in the demo world (never on the
# demo clips). Defined only when the config has a `demo:` section; real data sets have none.

if DEMO:
    DEMO_DIR = demo_resources(DATASET)
    DEMO_CLIP_ARCHITECTURE = json.loads(Path(workflow.basedir, "vplan_core/demo/vplan-demo-clip.json").read_text())

    rule demo_annotations:
        output:
            scenarios=f"{DEMO_DIR}/scenarios.json",
            csvs=[f"{ANNOTATIONS}/{name}" for name in DATA.annotation_files],
        params:
            n_train=config["demo"]["n_train"],
            n_val=config["demo"]["n_val"],
            n_test=config["demo"]["n_test"],
            seed=config["demo"]["seed"],
        log:
            PATHS.log("demo_annotations"),
        benchmark:
            PATHS.benchmark("demo_annotations")
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/demo_annotations.py"

    rule demo_videos:
        input:
            scenarios=f"{DEMO_DIR}/scenarios.json",
            annotations=annotation_files(),
        output:
            directory(f"{config['dataset']['videos']}/shard_{{shard}}"),
        params:
            video=config["demo"]["video"],
            shard_size=SHARD_SIZE,
            annotations=annotation_dir,
            description=DESCRIPTION,
        log:
            PATHS.log("demo_videos/shard_{shard}"),
        benchmark:
            PATHS.benchmark("demo_videos/shard_{shard}")
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            ENV_EXTRACT
        script:
            "../workflow_scripts/demo_videos.py"

    # The architecture it is built from ships with the workflow: its content (not its place) is a
    # param, so an edit retrains it and the same run in another folder does not.
    rule demo_clip:
        output:
            config["features"]["clip"]["checkpoint"],
        params:
            training=config["demo"]["clip_training"],
            architecture=DEMO_CLIP_ARCHITECTURE,
        threads: JOB_THREADS
        log:
            PATHS.log("demo_clip"),
        benchmark:
            PATHS.benchmark("demo_clip")
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            ENV_TRAIN
        script:
            "../workflow_scripts/demo_clip.py"

    # The demo CLAP (audio PLG, rows 6-7): trained on the demo world's own class sounds, mixed
    # into one-second windows, never on demo clips; a transformers ClapModel folder with its own
    # tokenizer, which the extraction loads through features.clap.checkpoint like a real one.
    if "clap" in SOURCES.extracted:

        rule demo_clap:
            output:
                directory(config["features"]["clap"]["checkpoint"]),
            params:
                training=config["demo"]["clap_training"],
            threads: JOB_THREADS
            log:
                PATHS.log("demo_clap"),
            benchmark:
                PATHS.benchmark("demo_clap")
            resources:
                mem_mb=4000,
                runtime=30,
            conda:
                ENV_EXTRACT
            script:
                "../workflow_scripts/demo_clap.py"

    # The demo's backbones, pretrained in the demo world (vplan_core.demo.backbones) on its own
    # images, clips and sounds, as ImageNet / Kinetics / AudioSet pretrain the backbones of real
    # LLP features; each is written where its features.<backbone>.weights points, and the
    # extraction loads it from there exactly like a published file. R(2+1)D starts from the
    # pretrained 2D CNN (inflation, as I3D starts from ImageNet weights), so its job waits for it.
    rule demo_backbones:
        output:
            f"{DEMO_DIR}/backbones/{{backbone}}.pth",
        input:
            teacher=lambda wildcards: demo_backbone_teacher(config, wildcards.backbone),
        wildcard_constraints:
            backbone="|".join(DEMO_BACKBONES),
        params:
            settings=lambda wildcards: demo_backbone_settings(config, wildcards.backbone),
        threads: JOB_THREADS
        # first in the queue: the 2D CNN, then R(2+1)D inflated from it, are the longest chain of the demo
        priority: 10
        log:
            PATHS.log("demo_backbones/{backbone}"),
        benchmark:
            PATHS.benchmark("demo_backbones/{backbone}")
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            ENV_TRAIN
        script:
            "../workflow_scripts/demo_backbones.py"
