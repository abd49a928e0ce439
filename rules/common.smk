# Helpers shared by all rules: config validation, dataset layout, shard lists, per-rule params.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # vplan_core importable without installing the package

from vplan_core.ablation import PLD_SOURCE_ROW, ROWS
from vplan_core.config import check_paths, validate_config
from vplan_core.shards import all_video_ids, shard_names

validate_config(config)

DATASET = config["dataset"]["name"]
DEMO = "demo" in config  # the demo section makes the workflow generate its own data set
RESULTS = f"results/{DATASET}"
LOGS = f"logs/{DATASET}"
BENCH = f"benchmarks/{DATASET}"
ANNOTATIONS = config["dataset"]["annotations"]
SHARD_SIZE = config["dataset"]["shard_size"]
HAN_FEATURES = ["vggish", "cnn2d", "r2plus1d"]
FEATURES = HAN_FEATURES + ["clip"]
SPLITS = ["train", "val", "test"]
ENV_EXTRACT = "../envs/extract.yaml"
ENV_TRAIN = "../envs/train.yaml"
ENV_REPORT = "../envs/report.yaml"

if DEMO:
    N_VIDEOS = sum(config["demo"][f"n_{split}"] for split in SPLITS)
else:
    check_paths({"dataset.annotations": ANNOTATIONS, "dataset.videos": config["dataset"].get("videos", "")})
    N_VIDEOS = len(all_video_ids(ANNOTATIONS))
SHARDS = shard_names(N_VIDEOS, SHARD_SIZE)
# The device is a resource, not a param: moving to a GPU must not invalidate results.
GPU = 1 if config["train"]["device"].startswith("cuda") else 0


wildcard_constraints:
    shard=r"\d{4}",
    feature="|".join(FEATURES),
    split="|".join(SPLITS),
    row="|".join(ROWS),
    labels="plg|pld",


def repo_path(relative):
    """Files shipped with the workflow, valid whatever the working directory (-d)."""
    return str(Path(workflow.basedir) / relative)


def annotation_files():
    names = ["AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv", "AVVP_eval_audio.csv", "AVVP_eval_visual.csv"]
    return [f"{ANNOTATIONS}/{name}" for name in names]


def shard_video_dir(wildcards):
    """The demo renders one folder per shard; real data lives in one folder of <id>.mp4."""
    if DEMO:
        return f"{config['dataset']['videos']}/shard_{wildcards.shard}"
    return config["dataset"]["videos"]


def shard_video_input(wildcards):
    return [shard_video_dir(wildcards)] if DEMO else []


def feature_stores(feature):
    return expand(f"{RESULTS}/features/{feature}/shard_{{shard}}.zarr", shard=SHARDS)


def han_feature_inputs():
    return {feature: feature_stores(feature) for feature in HAN_FEATURES}


def extraction_settings(wildcards):
    """Only the settings of this feature (and the sampling it uses) reach its jobs."""
    sampling = config["sampling"]
    settings = dict(config["features"][wildcards.feature])
    if wildcards.feature == "vggish":
        settings.update(audio_rate=sampling["audio_rate"], seconds=sampling["seconds"])
    elif wildcards.feature == "clip":
        settings.update(seconds=sampling["seconds"])
    else:
        settings.update(fps=sampling["fps"], seconds=sampling["seconds"])
    return settings


def clip_inputs(wildcards=None):
    clip = config["features"]["clip"]
    files = [clip["checkpoint"]]
    if clip.get("config_file"):
        files.append(clip["config_file"])
    return files


def train_settings(row):
    settings = {key: value for key, value in config["train"].items() if key != "device"}
    settings["loss"] = ROWS[row][0]
    if ROWS[row][0] in ("plg_segbce", "plg_rl"):
        settings.update(rl_lambda=config["rl"]["lambda"])
    if ROWS[row][0] == "plg_rl":
        settings.update(rl_distance=config["rl"]["distance"], rl_eps=config["rl"]["eps"])
    return settings


def row_label_input(wildcards):
    source = ROWS[wildcards.row][1]
    return {} if source is None else {"labels": f"{RESULTS}/labels/{source}/train.npz"}


def report_outputs():
    report_dir = f"{RESULTS}/report"
    return [f"{report_dir}/report.md", f"{report_dir}/report.json"]
