# Helpers shared by all rules: config validation, the run's plan (vplan_core.plan: which rule
# makes each store, which rows run), its paths (vplan_core.paths) and per-rule inputs.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # vplan_core importable without installing the package

from vplan_core.method.ablation import AUDIO_PLD_SOURCE_ROW, PLD_SOURCE_ROW, ROWS, STAGE1_ROWS, STAGE2_ROWS
from vplan_core.method.plg import AUDIO_PROMPT
from vplan_core.config import ConfigError, apply_command_line, validate_config
from vplan_core.feature_registry import DEMO_BACKBONES, FEATURES, HAN_FEATURES
from vplan_core.data.llp import ANNOTATION_FILES, EVAL_FILES, SPLITS
from vplan_core.paths import RunPaths, demo_resources
from vplan_core.paths import HAN
from vplan_core.plan import (demo_backbone_settings, demo_backbone_teacher, extraction_inputs, extraction_settings,
                             feature_sources, group_name, group_seeds, input_problems, model_rows, pld_source_model,
                             released_settings, seed_groups, summary_line, train_settings, trained_models)
from vplan_core.data.shards import all_video_ids, shard_names

validate_config(config, command_line=apply_command_line(config, workflow.config_settings.overwrite_config))

DATASET = config["dataset"]["name"]
DEMO = "demo" in config  # the demo section makes the workflow generate its own data set
PATHS = RunPaths(DATASET)
ANNOTATIONS = config["dataset"]["annotations"]
SHARD_SIZE = config["dataset"]["shard_size"]
ENV_EXTRACT = "../envs/extract.yaml"
ENV_TRAIN = "../envs/train.yaml"
ENV_REPORT = "../envs/report.yaml"
# Torch threads per job. One: two 1-thread jobs side by side outrun one 2-thread job
# (bench/bench_job_threads.py), and torch's float sums depend on the thread count, so a fixed
# count gives the same numbers whatever --cores is. More per job: snakemake --set-threads.
JOB_THREADS = 1

# Where the features come from (vplan_core.plan.feature_sources; one DAG, chosen by the config):
# extracted from the videos (and the demo), imported from the official .npy files
# (dataset.official_features, which then also make the manifest), and CLIP image embeddings
# imported from released features (dataset.clip_features). Without CLIP only row 1 runs.
VIDEOS = config["dataset"].get("videos") or None
try:
    SOURCES = feature_sources(config, ROWS)
except ValueError as error:
    raise ConfigError(str(error)) from None
RUN_ROWS = list(SOURCES.rows)
SKIPPED_ROWS = SOURCES.skipped_rows
# Parser families (train.models): HAN trains every row; each other family the rows of its
# Table V (vplan_core.plan.model_rows), in folders of its own beside HAN's.
OTHER_MODELS = [model for model in trained_models(config) if model != HAN]
MODEL_ROWS = {model: model_rows(config, model, SOURCES.rows) for model in OTHER_MODELS}
OWN_PLD_MODELS = [model for model in OTHER_MODELS if pld_source_model(config, model) != HAN]
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
SEED_GROUPS = [group_name(group) for group in seed_groups(config["train"]["seeds"], config["train"].get("seeds_per_job"))]
# The device is a resource, not a param: moving to a GPU must not invalidate results.
GPU = 1 if config["train"]["device"].startswith("cuda") else 0


wildcard_constraints:
    shard=r"\d{4}",
    feature="|".join(FEATURES),
    split="|".join(SPLITS),
    row="|".join(ROWS),
    seeds=r"\d+(-\d+)*",
    model="|".join(OTHER_MODELS) or "(?!)",


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


# The probed videos: the manifest itself, or (when the official features make the manifest)
# a list beside it that only the extraction of CLIP reads.
VIDEO_MANIFEST = (PATHS.probed_videos_shard("{shard}") if SOURCES.manifest_producer == "probe_official_shard"
                  else PATHS.manifest_shard("{shard}"))


def feature_stores(feature):
    return expand(PATHS.feature_store(feature, "{shard}"), shard=SHARDS)


def han_feature_inputs():
    return {feature: feature_stores(feature) for feature in HAN_FEATURES}


def job_seeds(wildcards):
    return group_seeds(wildcards.seeds)


def job_model(wildcards):
    """The family a training or evaluation job is of (HAN's jobs have no model wildcard)."""
    return wildcards.get("model", HAN)


def row_settings(wildcards):
    return train_settings(config, ROWS[wildcards.row].loss, job_model(wildcards))


def row_label_input(wildcards):
    """A row's segment labels: PLG's for stage-1 rows; for stage 2 the PLD job of its seeds, made
    with HAN's row-4 models (or the family's own, models.<model>.pld_source)."""
    row = ROWS[wildcards.row]
    if row.labels is None:
        return {}
    if row.labels == "plg":
        labels = {"labels": PATHS.plg_labels("train")}
        return {**labels, "audio_labels": PATHS.plg_labels("train", audio=True)} if row.audio else labels
    if row.audio:  # row 7: both modalities refined by row 6's models
        folder = PATHS.pld_dir(wildcards.seeds, audio=True)
        return {"labels": folder, "audio_labels": folder}
    return {"labels": PATHS.pld_dir(wildcards.seeds, pld_source_model(config, job_model(wildcards)))}


def report_jobs(rows):
    """Each HAN training job the report reads, keyed: its row, seed group, evaluation and folder."""
    return [{"row": row, "seeds": seeds, "evaluation": PATHS.evaluation(row, seeds), "model_dir": PATHS.model_dir(row, seeds)}
            for row in rows for seeds in SEED_GROUPS]


def parser_jobs():
    """Each other family's evaluations the report's Table V reads, keyed by model, row and seeds."""
    return [{"model": model, "row": row, "seeds": seeds, "evaluation": PATHS.evaluation(row, seeds, model)}
            for model, rows in MODEL_ROWS.items() for row in rows for seeds in SEED_GROUPS]


def report_outputs():
    """The report; it covers the rows this config can train and says which it skipped and why."""
    return [PATHS.report("report.md"), PATHS.report("report.json")]


def quality_inputs(audio=False):
    """The label-quality files (PLG vs PLD on val) when PLD runs, i.e. when its stage-1 row does
    (row 4 for the visual labels, row 6 for the audio ones)."""
    if (AUDIO_PLD_SOURCE_ROW if audio else PLD_SOURCE_ROW) not in RUN_ROWS:
        return []
    return expand(PATHS.label_quality("{seeds}", audio=audio), seeds=SEED_GROUPS)


def clap_settings():
    """What CLAP's text side reads: the features.clap keys that choose the model."""
    return {key: config["features"]["clap"].get(key) for key in ("checkpoint", "fusion", "config", "tokenizer")}


def print_manifest_summary(path):
    """After a run: how many videos were used, skipped (by reason) and missing."""
    import json

    if Path(path).exists():
        print(summary_line(json.loads(Path(path).read_text()), path))
