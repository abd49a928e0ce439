"""A data set described once: the facts about an AVVP benchmark that every stage reads.

Each benchmark is one YAML file in vplan_core/datasets/ (llp.yaml, lfav.yaml); a third is a new
file, not new code: `dataset.description` names a built-in one or the path of another. The
file says what the classes are, how long a segment is and how many a video has (fixed, or as
many as its features have rows), which split files hold which labels (of the video, of each
modality, dense events), how dense rows end (exclusive or inclusive), which labels are ignored,
which metric protocol scores it, how long the training samples are, and how the released
features are laid out. Nothing outside this module and those files names a class count, a
segment count or a file of a data set.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

SPLITS = ("train", "val", "test")
LABEL_FILES = ("weak", "weak_audio", "weak_visual", "dense_audio", "dense_visual")
METRICS = ("llp", "lfav")


@dataclass(frozen=True)
class SplitFiles:
    """A split's annotation files, relative to dataset.annotations: weak, the video's labels
    (the union of its modalities'); weak_audio/weak_visual, each modality's video-level labels
    where the data set has them; dense_audio/dense_visual, the evaluation's onset/offset rows."""

    weak: str
    weak_audio: str | None = None
    weak_visual: str | None = None
    dense_audio: str | None = None
    dense_visual: str | None = None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(f for f in (getattr(self, key) for key in LABEL_FILES) if f)


@dataclass(frozen=True)
class ReleasedFeature:
    """A feature as the data set's release lays it out: <folder>/<id>.npy of `shape` per video
    (None where the rows vary with the video's length); sampling: what the release says of how
    it was made (recorded in every store imported from it)."""

    folder: str
    shape: tuple[int | None, ...]
    sampling: dict


@dataclass(frozen=True)
class DatasetDescription:
    name: str
    title: str
    classes: tuple[str, ...]
    segment_s: float
    segments: int | None  # every video's segment count, or None: its features' row count
    id_length: int
    splits: dict[str, SplitFiles]
    other_files: tuple[str, ...]
    weak_columns: tuple[str, ...]
    dense_columns: tuple[str, ...]
    dense_end: str  # "exclusive": a row marks [onset, offset); "inclusive": [onset, offset]
    ignored_labels: tuple[str, ...]
    unknown_labels: str  # "error", or "skip" (counted, as the official loader prints and skips them)
    metric: str
    train_length: int | None  # equal-length training samples (LFAV's ToEqualLengthSample), or whole videos
    released_features: dict[str, ReleasedFeature]
    features_release: str  # whose release the released features are (each imported store's weights attr)
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def class_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def fixed_length(self) -> bool:
        return self.segments is not None

    @property
    def modality_labels(self) -> bool:
        """Whether every split has each modality's video-level labels (LFAV's real_av_labels)."""
        return all(files.weak_audio and files.weak_visual for files in self.splits.values())

    @property
    def eval_files(self) -> tuple[str, ...]:
        """Every file a run reads, each once: each kind of file (LABEL_FILES) in split order."""
        return tuple(dict.fromkeys(getattr(self.splits[split], key) for key in LABEL_FILES for split in SPLITS
                                   if getattr(self.splits[split], key)))

    @property
    def annotation_files(self) -> tuple[str, ...]:
        """The files of the release (a run reads eval_files of them)."""
        return (*self.eval_files, *self.other_files)

    def video_id(self, filename: str) -> str:
        """A filename's video id: its first id_length characters (ids may contain '_')."""
        if len(filename) < self.id_length:
            raise ValueError(f"filename {filename!r} is shorter than a {self.id_length}-character video id")
        return filename[:self.id_length]


def _fail(source: str, message: str):
    raise ValueError(f"data set description {source}: {message}")


def parse_description(data: dict, source: str) -> DatasetDescription:
    """A description from its YAML mapping; ValueError naming `source` and the key otherwise."""
    expected = {f for f in DatasetDescription.__dataclass_fields__ if f != "source"}
    if not isinstance(data, dict):
        _fail(source, "expected a mapping")
    unknown, missing = set(data) - expected, expected - set(data)
    if unknown or missing:
        _fail(source, f"unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    classes = tuple(data["classes"])
    if len(set(classes)) != len(classes) or not classes:
        _fail(source, "classes must be a non-empty list without repeats")
    if data["segments"] is not None and (not isinstance(data["segments"], int) or data["segments"] < 1):
        _fail(source, f"segments must be a positive integer or null, got {data['segments']!r}")
    if data["dense_end"] not in ("exclusive", "inclusive"):
        _fail(source, f"dense_end must be exclusive or inclusive, got {data['dense_end']!r}")
    if data["unknown_labels"] not in ("error", "skip"):
        _fail(source, f"unknown_labels must be error or skip, got {data['unknown_labels']!r}")
    if data["metric"] not in METRICS:
        _fail(source, f"metric must be one of {METRICS}, got {data['metric']!r}")
    if set(data["splits"]) != set(SPLITS):
        _fail(source, f"splits must be exactly {SPLITS}, got {sorted(data['splits'])}")
    splits = {}
    for name in SPLITS:
        files = data["splits"][name]
        if not isinstance(files, dict) or "weak" not in files or set(files) - set(LABEL_FILES):
            _fail(source, f"splits.{name} must map {LABEL_FILES} (weak required) to file names")
        splits[name] = SplitFiles(**files)
        if bool(splits[name].dense_audio) != bool(splits[name].dense_visual):
            _fail(source, f"splits.{name}: dense_audio and dense_visual go together")
    released = {feature: ReleasedFeature(spec["folder"], tuple(spec["shape"]), dict(spec.get("sampling", {})))
                for feature, spec in (data["released_features"] or {}).items()}
    return DatasetDescription(
        name=data["name"], title=data["title"], classes=classes, segment_s=float(data["segment_s"]),
        segments=data["segments"], id_length=int(data["id_length"]), splits=splits,
        other_files=tuple(data["other_files"]), weak_columns=tuple(data["weak_columns"]),
        dense_columns=tuple(data["dense_columns"]), dense_end=data["dense_end"],
        ignored_labels=tuple(data["ignored_labels"]), unknown_labels=data["unknown_labels"],
        metric=data["metric"], train_length=data["train_length"], released_features=released,
        features_release=str(data["features_release"] or ""), source=source)


BUILT_IN = ("llp", "lfav")


@cache
def describe(name_or_path: str = "llp") -> DatasetDescription:
    """A built-in description by name (vplan_core/datasets/<name>.yaml) or one from a YAML path."""
    if name_or_path in BUILT_IN:
        text = resources.files("vplan_core").joinpath("datasets", f"{name_or_path}.yaml").read_text(encoding="utf-8")
        source = f"vplan_core/datasets/{name_or_path}.yaml"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"data set description {name_or_path!r}: neither a built-in one "
                                    f"({', '.join(BUILT_IN)}) nor a file")
        text, source = path.read_text(encoding="utf-8"), str(path)
    return parse_description(yaml.safe_load(text), source)


LLP = describe("llp")  # the demo's world is a miniature LLP
