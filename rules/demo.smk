# The embedded demo: a synthetic mini-LLP (real mp4 files + LLP-format csv files) and a small
# CLIP trained on synthetic object images (never on the demo clips). Only used when the config
# has a `demo:` section; real data sets skip these rules.


rule demo_annotations:
    output:
        scenarios="resources/{dataset}/scenarios.json",
        csvs=[f"resources/{{dataset}}/annotations/{name}" for name in [
            "AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv",
            "AVVP_eval_audio.csv", "AVVP_eval_visual.csv", "AVVP_dataset_full.csv"]],
    params:
        n_train=config.get("demo", {}).get("n_train"),
        n_val=config.get("demo", {}).get("n_val"),
        n_test=config.get("demo", {}).get("n_test"),
        seed=config.get("demo", {}).get("seed"),
    log:
        "logs/{dataset}/demo_annotations.log",
    benchmark:
        "benchmarks/{dataset}/demo_annotations.tsv"
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/demo_annotations.py"


rule demo_videos:
    input:
        scenarios="resources/{dataset}/scenarios.json",
        annotations=annotation_files(),
    output:
        directory("resources/{dataset}/videos/shard_{shard}"),
    params:
        video=config.get("demo", {}).get("video"),
        shard_size=SHARD_SIZE,
        annotations=annotation_dir,
    log:
        "logs/{dataset}/demo_videos/shard_{shard}.log",
    benchmark:
        "benchmarks/{dataset}/demo_videos/shard_{shard}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV_EXTRACT
    script:
        "../workflow_scripts/demo_videos.py"


rule demo_clip:
    output:
        "resources/{dataset}/clip/vplan-demo-clip.pt",
    input:
        model_config=repo_path("vplan_core/demo/vplan-demo-clip.json"),
    params:
        training=config.get("demo", {}).get("clip_training"),
    threads: JOB_THREADS
    log:
        "logs/{dataset}/demo_clip.log",
    benchmark:
        "benchmarks/{dataset}/demo_clip.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/demo_clip.py"


# The demo's backbones, pretrained in the demo world (vplan_core.demo.backbones) on its own
# images, clips and sounds, never on demo clips, as ImageNet / Kinetics / AudioSet pretrain the
# backbones of real LLP features. R(2+1)D starts from the pretrained 2D CNN (inflation, as I3D
# starts from ImageNet weights), so its job waits for that file. The extraction jobs load them through features.*.weights,
# exactly like published weight files.
DEMO_BACKBONES = ["vggish", "cnn2d", "r2plus1d"]


rule demo_backbones:
    output:
        "resources/{dataset}/backbones/{backbone}.pth",
    input:
        teacher=demo_backbone_teacher,
    wildcard_constraints:
        backbone=only_if(DEMO, "|".join(DEMO_BACKBONES)),
    params:
        settings=demo_backbone_settings,
    threads: JOB_THREADS
    # first in the queue: the 2D CNN, then R(2+1)D inflated from it, are the longest chain of the demo
    priority: 10
    log:
        "logs/{dataset}/demo_backbones/{backbone}.log",
    benchmark:
        "benchmarks/{dataset}/demo_backbones/{backbone}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        ENV_TRAIN
    script:
        "../workflow_scripts/demo_backbones.py"
