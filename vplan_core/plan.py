"""From a configuration to jobs: pure functions the workflow (rules/common.smk) plans with.

Feature sources: each feature store is extracted from videos or imported from released
pre-extracted features (feature_sources), and that decides which ablation rows can run.

Seeds: every row is trained for every seed of `train.seeds`; the seeds of one job train as one
batched model (vplan_core.models.seed_batch). Jobs take the seeds in list order,
`train.seeds_per_job` at a time (default: all), so appending a whole group of seeds adds jobs
and leaves the existing ones as they are. A job's seeds name its folder: seeds_0-1-2 (the group's name).

Producers: which rule makes each feature store and the manifest is decided here, by
feature_sources, and the rules read its answer (rules/features.smk defines a producer's rule
only when the run uses it).
"""
from __future__ import annotations

from dataclasses import dataclass

from vplan_core.feature_registry import FEATURES, HAN_FEATURES, RANDOM_PREFIX
from vplan_core.paths import HAN

SEED_SEPARATOR = "-"


def seed_groups(seeds: list[int], per_job: int | None = None) -> list[list[int]]:
    """The seeds of each training job, in list order."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"config key 'train.seeds': need distinct seeds, one at least; got {seeds}")
    per_job = per_job or len(seeds)
    return [list(seeds[i:i + per_job]) for i in range(0, len(seeds), per_job)]


def group_name(seeds: list[int]) -> str:
    """The name of a group of seeds in paths: [0, 1, 2] -> "0-1-2"."""
    return SEED_SEPARATOR.join(str(s) for s in seeds)


def group_seeds(name: str) -> list[int]:
    """The inverse of group_name."""
    return [int(s) for s in name.split(SEED_SEPARATOR)]


CLIP, CLAP = "clip", "clap"
OFFICIAL_KEY, CLIP_FEATURES_KEY, CLAP_FEATURES_KEY = "dataset.official_features", "dataset.clip_features", "dataset.clap_features"


@dataclass(frozen=True)
class Sources:
    """Where each feature store of a run comes from, and which ablation rows that allows.

    extracted: features extracted from the videos; imported: feature -> the config key of the
    released features it is imported from; skipped_rows: row -> why it cannot run.
    """

    extracted: tuple[str, ...]
    imported: dict[str, str]
    rows: tuple[str, ...]
    skipped_rows: dict[str, str]

    probes_videos: bool = True  # a folder of videos is probed (else: no video is decoded)

    @property
    def features(self) -> tuple[str, ...]:
        """Every store the run makes (the manifest accounts for each)."""
        return (*self.imported, *self.extracted)

    @property
    def official(self) -> tuple[str, ...]:
        """The stores imported from the official features (then the manifest comes from them)."""
        return tuple(f for f, key in self.imported.items() if key == OFFICIAL_KEY)

    @property
    def released(self) -> tuple[str, ...]:
        """The pseudo-label stores imported from released segment embeddings (CLIP, CLAP)."""
        return tuple(f for f, key in self.imported.items() if key in (CLIP_FEATURES_KEY, CLAP_FEATURES_KEY))

    @property
    def audio_plg(self) -> bool:
        """Audio segment pseudo labels (CLAP) are made: rows 6-7 run."""
        return CLAP in self.features

    def producer(self, feature: str) -> str:
        """The rule that makes `feature`'s stores: extract_features, import_official_features or
        import_segment_features (released CLIP or CLAP embeddings)."""
        if feature in self.extracted:
            return "extract_features"
        return "import_official_features" if self.imported[feature] == OFFICIAL_KEY else "import_segment_features"

    @property
    def manifest_producer(self) -> str:
        """probe_official_shard (status from the official feature files) or probe_shard."""
        return "probe_official_shard" if self.official else "probe_shard"


def feature_sources(config: dict, rows: dict) -> Sources:
    """The sources of a (validated) config.

    HAN features: imported from dataset.official_features when given, else extracted from the
    videos. CLIP image embeddings (PLG, rows 2-5): imported from dataset.clip_features when
    given, unless features.clip.source is "videos"; else extracted from the videos (the demo
    renders its own). Without either, only the rows without segment labels run (row 1).
    CLAP audio embeddings (audio PLG, rows 6-7) only when plg.audio.enabled: imported from
    dataset.clap_features when given, else extracted from the videos; the audio rows are not
    planned at all when audio PLG is off. rows: vplan_core.method.ablation.ROWS.
    """
    dataset = config["dataset"]
    videos = "demo" in config or bool(dataset.get("videos"))
    official, clip_features = bool(dataset.get("official_features")), bool(dataset.get("clip_features"))
    source = config["features"]["clip"].get("source", "auto")
    if not videos and not official:
        raise ValueError("config key 'dataset': set dataset.videos (a folder of <id>.mp4) and/or "
                         "dataset.official_features (a folder with vggish/ res152/ r2plus1d_18/)")
    if source == "videos" and not videos:
        raise ValueError("config key 'features.clip.source' is 'videos' but dataset.videos is not set")
    if source == "features" and not clip_features:
        raise ValueError("config key 'features.clip.source' is 'features' but dataset.clip_features is not set")
    imported = {f: OFFICIAL_KEY for f in HAN_FEATURES} if official else {}
    clip_from_features = clip_features and source != "videos"
    if clip_from_features:
        imported[CLIP] = CLIP_FEATURES_KEY
    audio_plg = bool(config["plg"].get("audio", {}).get("enabled", False))
    if audio_plg and CLAP not in config["features"]:
        raise ValueError("config key 'plg.audio.enabled' is true but features.clap (the CLAP checkpoint) is not set")
    if audio_plg and dataset.get("clap_features"):
        imported[CLAP] = CLAP_FEATURES_KEY
    pseudo_label_features = (CLIP, CLAP) if audio_plg else (CLIP,)
    extracted = tuple(f for f in (*HAN_FEATURES, *pseudo_label_features)
                      if f not in imported and (f in HAN_FEATURES or videos))
    has = {f: f in imported or f in extracted for f in (CLIP, CLAP)}
    skipped = {}
    for row, spec in rows.items():
        if spec.audio and not audio_plg:
            continue  # audio PLG off: rows 6-7 are not part of the run
        if spec.labels is not None and not has[CLIP]:
            skipped[row] = "needs CLIP pseudo labels (PLG): set dataset.videos or dataset.clip_features"
        elif spec.audio and not has[CLAP]:
            skipped[row] = "needs CLAP audio pseudo labels: set dataset.videos or dataset.clap_features"
    run = tuple(r for r in rows if r not in skipped and (audio_plg or not rows[r].audio))
    return Sources(extracted=extracted, imported=imported, rows=run, skipped_rows=skipped, probes_videos=videos)


def extraction_settings(config: dict, feature: str) -> dict:
    """What the extraction of `feature` gets: its features.<feature> section and the sampling
    keys it uses (so a change of another feature's settings reruns nothing of this one)."""
    sampling = config["sampling"]
    return {**config["features"][feature], **{key: sampling[key] for key in FEATURES[feature].sampling}}


def released_settings(config: dict, feature: str) -> dict:
    """The import of released segment embeddings of `feature` (clip, clap): their folder, the
    configured model they come from, and how the release sampled its segments."""
    dataset, settings = config["dataset"], config["features"][feature]
    if feature == CLIP:
        return {"folder": dataset["clip_features"], "model": settings["model_name"],
                "sampling": {"frame_rule": dataset.get("clip_frame_rule", "unknown")}}
    return {"folder": dataset["clap_features"], "model": str(settings.get("checkpoint")),
            "sampling": {"window_rule": dataset.get("clap_window_rule", "unknown")}}


def extraction_inputs(config: dict, feature: str) -> list[str]:
    """The local files the extraction of `feature` reads (weight files that are files, config
    files), so that a changed file reruns it."""
    return FEATURES[feature].input_files(config["features"][feature])


TRAINER_ONLY = ("device", "seeds", "seeds_per_job", "smoothing_audio", "smoothing_visual", "models")
HAN_ONLY = ("d_model", "dropout")  # train.* keys that configure HAN itself
# The rows of the paper's Table V (another parser on the same labels): its own loss (1), PLG (2),
# PLD + RL (5); row 4 too when a family's own row-4 models refine its labels (pld_source "own").
TABLE_V_ROWS = ("row1_han", "row2_plg", "row5_vplan")


def trained_models(config: dict) -> list[str]:
    """The parser families trained on the rows (train.models; HAN alone by default)."""
    return list(config["train"].get("models", [HAN]))


def model_settings(config: dict, model: str) -> dict:
    """models.<model> of the config: a family's training defaults and constructor arguments."""
    return dict(config.get("models", {}).get(model, {}))


def model_rows(config: dict, model: str, rows: tuple[str, ...]) -> list[str]:
    """The rows `model` trains, of those the run can train: HAN every row; another family
    models.<model>.rows (default Table V's), with row 4 when its own models refine its labels."""
    if model == HAN:
        return list(rows)
    settings = model_settings(config, model)
    wanted = list(settings.get("rows", TABLE_V_ROWS))
    if settings.get("pld_source", HAN) != HAN and "row5_vplan" in wanted and "row4_plg_rl" not in wanted:
        wanted.append("row4_plg_rl")
    return [row for row in rows if row in wanted]


def pld_source_model(config: dict, model: str) -> str:
    """Whose row-4 models refine the labels `model` retrains on: HAN's, as the paper's Table V
    did (the labels are a product of the label pipeline), or the family's own ("own")."""
    if model == HAN or model_settings(config, model).get("pld_source", HAN) == HAN:
        return HAN
    return model


def train_settings(config: dict, loss_kind: str, model: str = HAN) -> dict:
    """The training settings of a row with loss `loss_kind`: the trainer's, and only the loss
    constants that loss uses (changing rl.distance reruns rows 4-5, not 1-3). The device is
    not a setting: moving to a GPU must not invalidate results. Another family than HAN takes
    train.* without HAN's own keys, overridden by its models.<model> defaults, and names its
    family and constructor arguments (so a change of one family's settings reruns that family)."""
    train = config["train"]
    settings = {key: value for key, value in train.items() if key not in TRAINER_ONLY}
    if model != HAN:
        family = model_settings(config, model)
        settings = {key: value for key, value in settings.items() if key not in HAN_ONLY}
        settings.update({key: value for key, value in family.items() if key not in ("kwargs", "rows", "pld_source")})
        settings.update(model=model, model_kwargs=dict(family.get("kwargs", {})))
    loss = {"kind": loss_kind, "smoothing_audio": train.get("smoothing_audio", 1.0)}
    if loss_kind == "han":
        loss.update(smoothing_visual=train.get("smoothing_visual", 0.9))
    if loss_kind in ("plg_segbce", "plg_rl", "plg_av_rl"):
        loss.update(rl_lambda=config["rl"]["lambda"])
    if loss_kind in ("plg_rl", "plg_av_rl"):
        loss.update(rl_distance=config["rl"]["distance"], rl_eps=config["rl"]["eps"])
    return {**settings, "loss": loss}


def weight_paths(config: dict, sources: Sources) -> dict[str, tuple[str, str]]:
    """config key -> (local weight file, where it is published) of every file this run loads:
    the extracted features' backbones, and the configured CLIP (CLAP) whenever PLG (audio PLG)
    runs: imported image (window) embeddings still need its text tower. The demo makes its own
    files by rules."""
    if "demo" in config:
        return {}
    features = [*sources.extracted, *(f for f in (CLIP, CLAP) if f in sources.imported)]
    return {key: (str(path), url) for feature in features
            for key, path, url in FEATURES[feature].weight_files(config["features"][feature])
            if not str(path).startswith(RANDOM_PREFIX)}


def input_problems(config: dict, sources: Sources) -> list[str]:
    """Every problem with the input paths and files of a real run, found before any job starts,
    each naming its config key: missing folders and weight files, the official features'
    layout, released CLIP features against the configured CLIP, the CLIP and CLAP checkpoints'
    forms (a CLAP checkpoint may be a transformers folder)."""
    from pathlib import Path

    dataset = config["dataset"]
    keys = ("annotations", "videos", "official_features", "clip_features", "clap_features")
    problems = [f"config key 'dataset.{key}': path does not exist: {dataset[key]}"
                for key in keys if dataset.get(key) and not Path(dataset[key]).exists()]
    official, clip_dir, clip = dataset.get("official_features"), dataset.get("clip_features"), config["features"][CLIP]
    if official and Path(official).is_dir():
        from vplan_core.data.official import check_layout

        problems += check_layout(official)
    if CLIP in sources.imported and Path(clip_dir).is_dir():
        from vplan_core.features.clip import check_clip_features  # their width against the text tower's

        problems += check_clip_features(clip_dir, clip["model_name"], clip.get("config_file"))
    weights = weight_paths(config, sources)
    problems += [f"config key '{key}': weights file not found: {path!r} (published at {url}; download it "
                 f"where there is network and set the key to the local file)"
                 for key, (path, url) in weights.items()
                 if not (Path(path).exists() if key == f"features.{CLAP}.checkpoint" else Path(path).is_file())]
    if f"features.{CLIP}.checkpoint" in weights and Path(clip["checkpoint"]).is_file():
        from vplan_core.features.clip import check_checkpoint  # its form and architecture

        problems += check_checkpoint(clip["checkpoint"], clip["model_name"], clip.get("config_file"))
    if f"features.{CLAP}.checkpoint" in weights and Path(weights[f"features.{CLAP}.checkpoint"][0]).exists():
        from vplan_core.features import clap

        settings = config["features"][CLAP]
        problems += clap.check_checkpoint(settings["checkpoint"], settings.get("fusion"), settings.get("config"),
                                          settings.get("tokenizer"))
    return problems


def summary_line(summary: dict, path: str) -> str:
    """The line a run ends with: how many videos were used, skipped (by reason) and missing,
    which features skipped which videos, and the files no split names (manifest_summary.json)."""
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
    return line


def job_device(gpus: int) -> str:
    """A job that the scheduler gave a GPU (its `gpu` resource) uses it: the device is a
    resource, never a parameter, so moving to a GPU reruns nothing."""
    return "cuda" if gpus else "cpu"


def demo_backbone_settings(config: dict, backbone: str) -> dict:
    """The pretraining settings of one demo backbone: its demo.backbone_training section plus
    what its extractor states, the input size (and, for the 2D CNN, the architecture). Stated
    once, in `features`, the backbone cannot be trained at one size and read at another; a
    change there reruns the pretraining. An inflated backbone also gets its teacher's weight
    file and size as the teacher's extractor reads them."""
    settings = dict(config["demo"]["backbone_training"][backbone])
    extractor = config["features"][backbone]
    if "size" in extractor:
        settings["size"] = extractor["size"]
    if "backbone" in extractor:
        settings["arch"] = extractor["backbone"]
    if "inflate_from" in settings:
        teacher = config["features"][settings["inflate_from"]]
        settings.update(inflate_from=teacher["weights"], teacher_size=teacher["size"])
    return settings


def demo_backbone_teacher(config: dict, backbone: str) -> list[str]:
    """The pretrained file an inflated demo backbone starts from (none for the others)."""
    settings = demo_backbone_settings(config, backbone)
    return [settings["inflate_from"]] if "inflate_from" in settings else []
