"""From a configuration to jobs: pure functions the workflow (rules/common.smk) plans with.

Feature sources: each feature store is extracted from videos or imported from released
pre-extracted features (feature_sources), and that decides which ablation rows can run.

Seeds: every row is trained for every seed of `train.seeds`; the seeds of one job train as one
batched model (vplan_core.models.seed_batch). Jobs take the seeds in list order,
`train.seeds_per_job` at a time (default: all), so appending a whole group of seeds adds jobs
and leaves the existing ones as they are. A job's seeds name its folder: seeds_0-1-2.
"""
from __future__ import annotations

from dataclasses import dataclass

SEED_SEPARATOR = "-"


def seed_groups(seeds: list[int], per_job: int | None = None) -> list[list[int]]:
    """The seeds of each training job, in list order."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"config key 'train.seeds': need distinct seeds, one at least; got {seeds}")
    per_job = per_job or len(seeds)
    return [list(seeds[i:i + per_job]) for i in range(0, len(seeds), per_job)]


def seed_label(seeds: list[int]) -> str:
    """The name of a group of seeds in paths: [0, 1, 2] -> "0-1-2"."""
    return SEED_SEPARATOR.join(str(s) for s in seeds)


def label_seeds(label: str) -> list[int]:
    """The inverse of seed_label."""
    return [int(s) for s in label.split(SEED_SEPARATOR)]


def seed_dir(seed: int) -> str:
    """A seed's folder inside its job's output folder."""
    return f"seed_{seed}"


HAN_FEATURES = ("vggish", "cnn2d", "r2plus1d")
CLIP = "clip"


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

    @property
    def features(self) -> tuple[str, ...]:
        """Every store the run makes (the manifest accounts for each)."""
        return (*self.imported, *self.extracted)


def feature_sources(config: dict, rows: dict) -> Sources:
    """The sources of a (validated) config.

    HAN features: imported from dataset.official_features when given, else extracted from the
    videos. CLIP image embeddings (PLG, rows 2-5): imported from dataset.clip_features when
    given, unless features.clip.source is "videos"; else extracted from the videos (the demo
    renders its own). Without either, only the rows without segment labels run (row 1).
    rows: vplan_core.ablation.ROWS.
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
    imported = {f: "dataset.official_features" for f in HAN_FEATURES} if official else {}
    clip_from_features = clip_features and source != "videos"
    if clip_from_features:
        imported[CLIP] = "dataset.clip_features"
    extracted = tuple(f for f in (*HAN_FEATURES, CLIP) if f not in imported and (f != CLIP or videos))
    has_clip = CLIP in imported or CLIP in extracted
    skipped = {} if has_clip else {
        row: "needs CLIP pseudo labels (PLG): set dataset.videos or dataset.clip_features"
        for row, spec in rows.items() if spec.labels is not None}
    return Sources(extracted=extracted, imported=imported,
                   rows=tuple(r for r in rows if r not in skipped), skipped_rows=skipped)
