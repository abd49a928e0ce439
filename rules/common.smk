# Helpers shared by all rules: config validation, dataset layout, shard lists, per-rule params.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # vplan_core importable without installing the package

from vplan_core.method.ablation import PLD_SOURCE_ROW, ROWS
from vplan_core.config import ConfigError, apply_command_line, validate_config
from vplan_core.features.registry import FEATURES, HAN_FEATURES, weight_files
from vplan_core.data.llp import ANNOTATION_FILES, EVAL_FILES, SPLITS
from vplan_core.plan import (extraction_settings, feature_sources, input_problems, label_seeds, seed_groups,
                             seed_label, summary_line, train_settings)
from vplan_core.data.shards import all_video_ids, shard_names

validate_config(config, command_line=apply_command_line(config, workflow.config_settings.overwrite_config))

DATASET = config["dataset"]["name"]
DEMO = "demo" in config  # the demo section makes the workflow generate its own data set
RESULTS = f"results/{DATASET}"
LOGS = f"logs/{DATASET}"
BENCH = f"benchmarks/{DATASET}"
ANNOTATIONS = config["dataset"]["annotations"]
SHARD_SIZE = config["dataset"]["shard_size"]
ENV_EXTRACT = "../envs/extract.yaml"
ENV_TRAIN = "../envs/train.yaml"
ENV_REPORT = "../envs/report.yaml"
# Torch threads per job. One: two 1-thread jobs side by side train 1.58x faster than one 2-thread
# job (bench/bench_job_threads.py), and torch's float sums depend on the thread count, so a fixed
# count gives the same numbers whatever --cores is. More per job: snakemake --set-threads.
JOB_THREADS = 1

# Where the features come from (one DAG, selected by the config; vplan_core.plan.feature_sources):
# - videos only (and the demo): every feature is extracted from the videos;
# - dataset.official_features: the HAN features are imported from the official .npy files
#   (rule import_official_features) and the manifest is made from those files;
# - dataset.clip_features: the CLIP image embeddings (PLG, rows 2-5) are imported from released
#   features (rule import_clip_features) instead of extracted from videos, unless
#   features.clip.source is "videos". With neither videos nor CLIP features only row 1 runs.
VIDEOS = config["dataset"].get("videos") or None
OFFICIAL = config["dataset"].get("official_features") or None
CLIP_FEATURES = config["dataset"].get("clip_features") or None
try:
    SOURCES = feature_sources(config, ROWS)
except ValueError as error:
    raise ConfigError(str(error)) from None
HAS_FRAMES = DEMO or VIDEOS is not None
IMPORTED_FEATURES = [f for f, key in SOURCES.imported.items() if key == "dataset.official_features"]
CLIP_IMPORTED = "clip" in SOURCES.imported
EXTRACTED_FEATURES = list(SOURCES.extracted)
RUN_FEATURES = list(SOURCES.features)  # the stores the manifest accounts for
RUN_ROWS = list(SOURCES.rows)
SKIPPED_ROWS = SOURCES.skipped_rows
if SKIPPED_ROWS:
    print(f"vplan: no CLIP image embeddings (dataset.videos or dataset.clip_features): training "
          f"{', '.join(RUN_ROWS)} only; {', '.join(SKIPPED_ROWS)} need CLIP pseudo labels (PLG)",
          file=sys.stderr)


def check_inputs():
    """Every input path of a real run, before any job starts; each error names its config key."""
    problems = input_problems(config, SOURCES)
    if problems:
        raise ConfigError("missing inputs:\n  " + "\n  ".join(problems))


if DEMO:
    N_VIDEOS = sum(config["demo"][f"n_{split}"] for split in SPLITS)
else:
    # A cluster job's own Snakemake (exec mode remote or subprocess) parses this file again for
    # one job: the run that submitted it has checked the inputs, and the CLIP checkpoint check
    # imports open_clip (seconds a job).
    if not (workflow.remote_exec or workflow.subprocess_exec):
        check_inputs()
    N_VIDEOS = len(all_video_ids(ANNOTATIONS))
SHARDS = shard_names(N_VIDEOS, SHARD_SIZE)
# Training jobs: every row for every group of seeds (train.seeds, train.seeds_per_job at a time).
SEED_GROUPS = [seed_label(group) for group in seed_groups(config["train"]["seeds"], config["train"].get("seeds_per_job"))]
# The device is a resource, not a param: moving to a GPU must not invalidate results.
GPU = 1 if config["train"]["device"].startswith("cuda") else 0


wildcard_constraints:
    shard=r"\d{4}",
    feature="|".join(FEATURES),
    split="|".join(SPLITS),
    row="|".join(ROWS),
    seeds=r"\d+(-\d+)*",


def repo_path(relative):
    """Files shipped with the workflow, valid whatever the working directory (-d)."""
    return str(Path(workflow.basedir) / relative)


def annotation_dir(wildcards, input):
    """The annotation folder, derived from the rule's inputs (no hardcoded path prefix)."""
    return str(Path(input.annotations[0]).parent)


def annotation_files():
    return [f"{ANNOTATIONS}/{name}" for name in EVAL_FILES]


def shard_video_dir(wildcards):
    """The demo renders one folder per shard; real data lives in one folder of <id>.mp4."""
    if DEMO:
        return f"{config['dataset']['videos']}/shard_{wildcards.shard}"
    return VIDEOS


def shard_video_input(wildcards):
    return [shard_video_dir(wildcards)] if DEMO else []


def only_if(enabled, pattern):
    """A wildcard constraint that can switch a rule off (matching nothing when not enabled), so
    every rule stays a top-level `rule` and exactly one rule can produce each file."""
    return pattern if enabled else "(?!x)x"


# Probed videos: the manifest itself, or (when the manifest is made from the official features)
# a second manifest beside it that only the extraction of CLIP reads.
VIDEO_MANIFEST = f"{RESULTS}/manifest/videos/shard_{{shard}}.tsv" if OFFICIAL else f"{RESULTS}/manifest/shard_{{shard}}.tsv"


def feature_stores(feature):
    return expand(f"{RESULTS}/features/{feature}/shard_{{shard}}.zarr", shard=SHARDS)


def han_feature_inputs():
    return {feature: feature_stores(feature) for feature in HAN_FEATURES}


def weight_file_inputs(wildcards):
    """The weight files an extraction job loads, so a changed file reruns it (none for
    "random:<seed>"; CLIP's checkpoint comes with clip_inputs)."""
    if wildcards.feature == "clip":
        return []
    return [str(path) for _, path, _ in weight_files(wildcards.feature, config["features"][wildcards.feature])
            if not str(path).startswith("random:")]


def clip_inputs():
    clip = config["features"]["clip"]
    files = [clip["checkpoint"]]
    if clip.get("config_file"):
        files.append(clip["config_file"])
    return files


def model_dir(row, seeds):
    """The folder of one training job: seed_<s>/{model.pt, history.json, test_pred.npz}."""
    return f"{RESULTS}/models/{row}/seeds_{seeds}"


def pld_dir(seeds):
    """The folder of one PLD job: seed_<s>/{train,val}.npz."""
    return f"{RESULTS}/labels/pld/seeds_{seeds}"


def job_seeds(wildcards):
    return label_seeds(wildcards.seeds)


def row_label_input(wildcards):
    source = ROWS[wildcards.row].labels
    if source is None:
        return {}
    return {"labels": f"{RESULTS}/labels/plg/train.npz" if source == "plg" else pld_dir(wildcards.seeds)}


def row_evaluations(rows):
    return expand(f"{RESULTS}/eval/{{row}}/seeds_{{seeds}}.json", row=rows, seeds=SEED_GROUPS)


def report_outputs():
    """The report; it covers the rows this config can train and says which it skipped and why."""
    report_dir = f"{RESULTS}/report"
    return [f"{report_dir}/report.md", f"{report_dir}/report.json"]


def quality_inputs():
    """The label-quality files (PLG vs PLD on val) when PLD runs, i.e. when its stage-1 row does."""
    if PLD_SOURCE_ROW not in RUN_ROWS:
        return []
    return expand(f"{RESULTS}/eval/label_quality/seeds_{{seeds}}.json", seeds=SEED_GROUPS)


def print_manifest_summary(path):
    """After a run: how many videos were used, skipped (by reason) and missing."""
    import json

    if Path(path).exists():
        print(summary_line(json.loads(Path(path).read_text()), path))


def demo_backbone_settings(wildcards):
    """Only this backbone's pretraining settings, plus what its extractor states: the input size
    (and, for the 2D CNN, the architecture). Stated once, in `features`, the backbone cannot be
    trained at one size and read at another; a change there reruns the pretraining."""
    settings = dict(config["demo"]["backbone_training"][wildcards.backbone])
    extractor = config["features"][wildcards.backbone]
    if "size" in extractor:
        settings["size"] = extractor["size"]
    if wildcards.backbone == "cnn2d":
        settings["arch"] = extractor["backbone"]
    if "inflate_from" in settings:  # the teacher as its extractor reads it
        teacher = config["features"][settings["inflate_from"]]
        settings.update(inflate_from=teacher["weights"], teacher_size=teacher["size"])
    return settings


def demo_backbone_teacher(wildcards):
    """The pretrained 2D CNN file an inflated backbone starts from (none for the others)."""
    settings = demo_backbone_settings(wildcards)
    return [settings["inflate_from"]] if "inflate_from" in settings else []
