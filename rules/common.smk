# Helpers shared by all rules: config validation, dataset layout, shard lists, per-rule params.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # vplan_core importable without installing the package

from vplan_core.ablation import PLD_SOURCE_ROW, ROWS
from vplan_core.config import ConfigError, validate_config
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

# Where the features come from (one DAG, selected by the config):
# - videos only (and the demo): every feature is extracted from the videos;
# - dataset.official_features: the HAN features are imported from the official .npy files
#   (rule import_official_features) and the manifest is made from those files; CLIP (PLG,
#   rows 2-5) still needs frames, i.e. dataset.videos as well. Without videos only row 1 runs.
VIDEOS = config["dataset"].get("videos") or None
OFFICIAL = config["dataset"].get("official_features") or None
HAS_FRAMES = DEMO or VIDEOS is not None
IMPORTED_FEATURES = list(HAN_FEATURES) if OFFICIAL else []
EXTRACTED_FEATURES = [f for f in FEATURES if f not in IMPORTED_FEATURES and (f != "clip" or HAS_FRAMES)]
RUN_FEATURES = IMPORTED_FEATURES + EXTRACTED_FEATURES  # the stores the manifest accounts for
if not HAS_FRAMES and not OFFICIAL:
    raise ConfigError("config key 'dataset': set dataset.videos (a folder of <id>.mp4) and/or "
                      "dataset.official_features (a folder with vggish/ res152/ r2plus1d_18/)")
# Rows 2-5 need CLIP pseudo labels, i.e. frames; without them only row 1 (HAN) is trained.
RUN_ROWS = list(ROWS) if HAS_FRAMES else ["row1_han"]
SKIPPED_ROWS = {row: "needs frames for CLIP pseudo labels (PLG): set dataset.videos"
                for row in ROWS if row not in RUN_ROWS}
if SKIPPED_ROWS:
    print(f"vplan: no videos configured (dataset.videos): training {', '.join(RUN_ROWS)} only; "
          f"{', '.join(SKIPPED_ROWS)} need frames for CLIP pseudo labels (PLG)", file=sys.stderr)


def weight_paths():
    """config key -> (local weight file, where it is published) for the features that run here."""
    from vplan_core.features.cnn import PUBLISHED
    from vplan_core.features.vggish import PCA_URL, WEIGHTS_URL

    feats = config["features"]
    candidates = {
        "vggish": [("features.vggish.weights", feats["vggish"]["weights"], WEIGHTS_URL)]
        + ([("features.vggish.pca_params", feats["vggish"].get("pca_params", ""), PCA_URL)]
           if feats["vggish"]["pca"] else []),
        "cnn2d": [("features.cnn2d.weights", feats["cnn2d"]["weights"], PUBLISHED[feats["cnn2d"]["backbone"]])],
        "r2plus1d": [("features.r2plus1d.weights", feats["r2plus1d"]["weights"], PUBLISHED["r2plus1d_18"])],
        # the demo's CLIP is made by a rule (demo_clip); a real one is a local open_clip file
        "clip": [] if DEMO else [("features.clip.checkpoint", feats["clip"]["checkpoint"],
                                  "the open_clip pretrained releases (https://github.com/mlfoundations/open_clip, "
                                  "open_clip.list_pretrained()) or OpenAI's CLIP releases")],
    }
    return {key: (path, url) for feature in EXTRACTED_FEATURES for key, path, url in candidates[feature]
            if not str(path).startswith("random:")}


def check_inputs():
    """Every input path of a real run, before any job starts; each error names its config key."""
    from vplan_core.official import check_layout

    paths = {"dataset.annotations": ANNOTATIONS, "dataset.videos": VIDEOS, "dataset.official_features": OFFICIAL}
    problems = [f"config key '{key}': path does not exist: {path}" for key, path in paths.items()
                if path is not None and not Path(path).exists()]
    problems += check_layout(OFFICIAL) if OFFICIAL and Path(OFFICIAL).is_dir() else []
    problems += [f"config key '{key}': weights file not found: {path!r} (published at {url}; download it "
                 f"where there is network and set the key to the local file)"
                 for key, (path, url) in weight_paths().items() if not Path(path).is_file()]
    if problems:
        raise ConfigError("missing inputs:\n  " + "\n  ".join(problems))


if DEMO:
    N_VIDEOS = sum(config["demo"][f"n_{split}"] for split in SPLITS)
else:
    check_inputs()
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


def annotation_dir(wildcards, input):
    """The annotation folder, derived from the rule's inputs (no hardcoded path prefix)."""
    return str(Path(input.annotations[0]).parent)


def annotation_files():
    names = ["AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv", "AVVP_eval_audio.csv", "AVVP_eval_visual.csv"]
    return [f"{ANNOTATIONS}/{name}" for name in names]


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


def weight_file_inputs(wildcards):
    """The weight files an extraction job loads (none for "random:<seed>"; CLIP: clip_inputs)."""
    settings = config["features"][wildcards.feature]
    keys = {"vggish": ["weights"] + (["pca_params"] if settings.get("pca") else []),
            "cnn2d": ["weights"], "r2plus1d": ["weights"]}.get(wildcards.feature, [])
    return [settings[key] for key in keys if not str(settings[key]).startswith("random:")]


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
    """The report; without frames (rows 2-5 skipped) row 1's evaluation, the manifest summary
    and a note saying which rows were skipped and why."""
    if SKIPPED_ROWS:
        return [f"{RESULTS}/eval/row1_han.json", f"{RESULTS}/manifest_summary.json",
                f"{RESULTS}/eval/skipped_rows.json"]
    report_dir = f"{RESULTS}/report"
    return [f"{report_dir}/report.md", f"{report_dir}/report.json"]


def print_manifest_summary(path):
    """After a run: how many videos were used, skipped (by reason) and missing."""
    import json

    if Path(path).exists():
        summary = json.loads(Path(path).read_text())
        counts = ", ".join(f"{n} {status}" for status, n in summary["by_status"].items())
        reasons = "; ".join(f"{reason}: {n}" for reason, n in summary["by_reason"].items()) or "none"
        line = f"vplan: {summary['total']} videos: {counts} (skip reasons: {reasons})"
        skips = "; ".join(f"{feature}: {entry['total']} ({', '.join(f'{r}: {n}' for r, n in entry['by_reason'].items())})"
                          for feature, entry in summary.get("feature_skips", {}).items() if entry["total"])
        if skips:
            line += f"; feature skips: {skips}"
        extra = summary.get("extra", {}).get("total", 0)
        if extra:
            line += f"; {extra} file(s) in dataset.videos named by no split (listed in {path})"
        print(line)
