# Helpers shared by all rules: config validation, the run's plan (vplan_core.plan: which rule
# makes each store, which rows run), its paths (vplan_core.paths) and per-rule inputs.
import json
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # vplan_core importable without installing the package

from vplan_core.method.ablation import MODALITIES, ROWS
from vplan_core.config import ConfigError, apply_command_line, validate_config
from vplan_core.feature_registry import DEMO_BACKBONES, FEATURES
from vplan_core.data.annotations import check_eval_rows
from vplan_core.data.description import SPLITS, describe
from vplan_core.paths import RunPaths, demo_resources
from vplan_core.plan import (demo_backbone_settings, demo_backbone_teacher, extraction_inputs, extraction_settings,
                             feature_sources, group_name, group_seeds, input_problems, model_inputs, model_rows,
                             pld_job, plg_settings, quality_job, quality_jobs, released_label_settings,
                             released_settings, row_job, seed_groups, summary_line, text_settings, trained_models)
from vplan_core.data.shards import all_video_ids, shard_names

validate_config(config, command_line=apply_command_line(config, workflow.config_settings.overwrite_config))

DATASET = config["dataset"]["name"]
DESCRIPTION = config["dataset"].get("description", "llp")  # a built-in data set's name or a description file
try:
    DATA = describe(DESCRIPTION)
except (OSError, ValueError) as error:
    raise ConfigError(f"config key 'dataset.description': {error}") from None
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
# (dataset.official_features, which then also make the manifest), and pseudo-label features
# imported from released segment embeddings; VALOR's released segment labels (rules/released_labels.smk)
# for the rows that train on them. A row whose labels have no source is skipped.
VIDEOS = config["dataset"].get("videos") or None
try:
    SOURCES = feature_sources(config)
except ValueError as error:
    raise ConfigError(str(error)) from None
RUN_ROWS = list(SOURCES.rows)
SKIPPED_ROWS = SOURCES.skipped_rows
for skipped_row, why in SKIPPED_ROWS.items():
    print(f"vplan: skipping {skipped_row}: {why}", file=sys.stderr)
# Parsers (train.models, each a family or a recipe of one): the first trains every row, each
# other one its Table V rows or models.<name>.rows (vplan_core.plan.model_rows), each in a
# folder of its own, reading the features models.<name>.inputs names.
MODELS = trained_models(config)
MODEL_ROWS = {model: model_rows(config, model, SOURCES.rows) for model in MODELS}
QUALITY_JOBS = quality_jobs(config, MODEL_ROWS)  # (parser, stage-1 row, modality)


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
        for warning in check_eval_rows(ANNOTATIONS, config["dataset"].get("stray_eval_rows", "error"), DATA):
            print(f"vplan: {warning}", file=sys.stderr)
    N_VIDEOS = len(all_video_ids(ANNOTATIONS, DATA))
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
    stage1="|".join(ROWS),
    seeds=r"\d+(-\d+)*",
    model="|".join(MODELS),
    modality="|".join(MODALITIES),


def annotation_dir(wildcards, input):
    """The annotation folder, derived from the rule's inputs (no hardcoded path prefix): the
    first file's path less the file's own path inside the folder (LFAV's are in split folders)."""
    return str(Path(input.annotations[0]).parents[len(Path(DATA.eval_files[0]).parts) - 1])


def annotation_files():
    return [f"{ANNOTATIONS}/{name}" for name in DATA.eval_files]


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
    """A feature's store of every shard. Extracted stores are ancient inputs: their shard job
    reruns for any feature's settings but rewrites only the stale ones, so what says that this
    feature's values changed is feature_provenance, not a store's time."""
    stores = expand(PATHS.feature_store(feature, "{shard}"), shard=SHARDS)
    return [ancient(store) for store in stores] if feature in SOURCES.extracted else stores


def feature_provenance(features):
    """What extracted stores are made from (features/extract.py fingerprint): each feature's
    settings file and the shards' video lists. A reader of the stores depends on these."""
    extracted = [feature for feature in features if feature in SOURCES.extracted]
    if not extracted:
        return []
    return [PATHS.extraction_settings(feature) for feature in extracted] + expand(VIDEO_MANIFEST, shard=SHARDS)


def parser_feature_inputs(model):
    """The stores of the features a parser reads, keyed by feature, and their provenance."""
    features = list(model_inputs(config, model).values())
    return {**{feature: feature_stores(feature) for feature in features},
            "feature_provenance": feature_provenance(features)}


def job_seeds(wildcards):
    return group_seeds(wildcards.seeds)


# Each job's inputs and params are the plan's answer (vplan_core.plan: row_job, pld_job,
# quality_job), read here from the wildcards; the rules only pass them on.
def training_job(wildcards):
    return row_job(PATHS, config, wildcards.row, wildcards.seeds, wildcards.model)


def refinement_job(wildcards):
    return pld_job(PATHS, config, wildcards.model, wildcards.stage1, wildcards.seeds)


def quality_check_job(wildcards):
    return quality_job(PATHS, config, wildcards.model, wildcards.stage1, wildcards.modality, wildcards.seeds)


def training_jobs(models):
    """Each training job of `models`, keyed: its parser, row, seed group, evaluation and folder."""
    return [{"model": model, "row": row, "seeds": seeds, "evaluation": PATHS.evaluation(row, seeds, model),
             "model_dir": PATHS.model_dir(row, seeds, model)}
            for model in models for row in MODEL_ROWS[model] for seeds in SEED_GROUPS]


def label_quality_files():
    """Each label-quality file the report reads, keyed by family, stage-1 row and modality."""
    return [{"model": model, "stage1": stage1, "modality": modality,
             "path": PATHS.label_quality(model, stage1, modality, seeds)}
            for model, stage1, modality in QUALITY_JOBS for seeds in SEED_GROUPS]


def report_outputs():
    """The report; it covers the rows this config can train and says which it skipped and why.
    Its newest figure is asked for by name, so that a run made before it gains it."""
    return [PATHS.report("report.md"), PATHS.report("report.json"), PATHS.report("seed_points.png")]


def print_manifest_summary(path):
    """After a run: how many videos were used, skipped (by reason) and missing."""
    if Path(path).exists():
        print(summary_line(json.loads(Path(path).read_text()), path))
