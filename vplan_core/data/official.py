"""A data set's released pre-extracted features as vplan feature stores.

The description (data/description.py, `released_features`) lays the release out: under
`dataset.official_features: DIR`, one folder per feature of `<id>.npy` files of a per-video
shape. LLP's (AVVP-ECCV20):

    DIR/vggish/<id>.npy       10 x 128   VGGish + PCA, one 0.96 s example per second (16 kHz)
    DIR/res152/<id>.npy       80 x 2048  ResNet-152 final pool, 80 frames at 8 fps, 224 px
    DIR/r2plus1d_18/<id>.npy  10 x 512   R(2+1)D-18 final pool, 10 clips of 8 frames, 112 px

LFAV's (GeWu-Lab/LFAV), one row per second of videos of any length (shape [null, D]):

    DIR/audio-feat-vggish-align/<id>.npy     T x 128   VGGish
    DIR/visual-feat-res18-align/<id>.npy     T x 512   ResNet-18
    DIR/visual-feat-r2plus1d-align/<id>.npy  T x 512   R(2+1)D-18

They are written into the same zarr stores as extraction (results/<ds>/features/<feature>/
shard_<k>.zarr), so training does not know where its features came from; a feature of any
length becomes a ragged store (feature_store.py). A video's files of any length must have the
same rows: LFAV's official code loads them as they are, concatenates the two visual features
row by row and takes the audio rows as the video's length, so files that disagree cannot run
there either; here such a video is a recorded skip in each store ("rows differ: ..."), not an
error. (Whether the real release has such videos is not known here: its features were not read.)

VALOR's released CLAP feature maps (`dataset.clap_feature_maps: DIR`, `DIR/<id>.npy` of exactly
[64, 768], HTSAT maps of the whole clip) become the clap_maps store (import_map_shard), a parser
input only (VALOR++'s audio).

CLIP image embeddings released for LLP (`dataset.clip_features: DIR`, `DIR/<id>.npy` of shape
[10, D], one image embedding per one-second segment, e.g. VALOR's ViT-L/14 features with
D = 768) become the clip store the same way (import_segment_shard; CLAP window embeddings the
clap store); D is whatever the release has,
the same for every file, and must match the width of the configured CLIP's text embeddings.

When no videos are configured the manifest is made from these files instead (status_records):
a video is `used` when all its feature files exist, `missing` ("no official features") when
none does, and `skipped` ("incomplete official features: no res152, ...") otherwise, so the
manifest still has exactly one record per annotated video and its counts add up; a used video's
duration is its audio feature's rows (read from the file's header) times the segment length.
Files are checked when imported: the release's shape, a numeric dtype (cast to float32), only
finite values; any violation is an error naming the file.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vplan_core.feature_registry import FEATURES as REGISTRY
from vplan_core.feature_store import write_store
from vplan_core.data.description import LLP, DatasetDescription
from vplan_core.data.manifest import ManifestRecord, make_record
from vplan_core.data.npy import NpyError, read_npy, read_npy_shape

DECODER = "official features"


class OfficialFeatureError(ValueError):
    """An official feature file that cannot be used as is; the message names the file."""


def feature_dir(official_dir: str | os.PathLike, feature: str, description: DatasetDescription = LLP) -> Path:
    return Path(official_dir) / description.released_features[feature].folder


def feature_path(official_dir: str | os.PathLike, feature: str, video_id: str,
                 description: DatasetDescription = LLP) -> Path:
    return feature_dir(official_dir, feature, description) / f"{video_id}.npy"


def shape_text(shape: Sequence[int | None]) -> str:
    """A per-video shape as messages write it: (10, 128), or (T, 128) when the rows vary."""
    return "(" + ", ".join("T" if n is None else str(n) for n in shape) + ")"


def check_layout(official_dir: str | os.PathLike, description: DatasetDescription = LLP) -> list[str]:
    """Problems with the folder layout (missing subfolders), each naming the path."""
    return [f"config key 'dataset.official_features': no folder {feature_dir(official_dir, f, description)} "
            f"(expected {released.folder}/<id>.npy of shape {shape_text(released.shape)}, as {description.name}'s "
            f"release lays them out)"
            for f, released in description.released_features.items()
            if not feature_dir(official_dir, f, description).is_dir()]


def _listing(official_dir: str | os.PathLike, description: DatasetDescription) -> dict[str, set[str]]:
    """feature -> ids with a file (one directory listing per feature, not a stat per video)."""
    out = {}
    for feature in description.released_features:
        folder = feature_dir(official_dir, feature, description)
        out[feature] = {name[:-4] for name in os.listdir(folder) if name.endswith(".npy")} \
            if folder.is_dir() else set()
    return out


def audio_feature(description: DatasetDescription) -> str:
    """The released feature whose rows are a video's segments (the audio one, as LFAV's
    evaluation takes them; else the first)."""
    released = tuple(description.released_features)
    return next((f for f in released if REGISTRY[f].role == "audio"), released[0])


def released_rows(path: Path, feature: str, description: DatasetDescription) -> int:
    """The rows of one released file, from its header alone, checked against the release's shape."""
    released = description.released_features[feature]
    shape = released_shape(path)
    if len(shape) != len(released.shape) or any(n is not None and n != f for n, f in zip(released.shape, shape)):
        raise OfficialFeatureError(f"{path}: shape {shape}, the official {released.folder} features are "
                                   f"{shape_text(released.shape)}")
    return shape[0]


def status_records(video_ids: Sequence[str], official_dir: str | os.PathLike,
                   description: DatasetDescription = LLP) -> list[ManifestRecord]:
    """One manifest record per id from the official files (no videos needed)."""
    features = tuple(description.released_features)
    present, audio = _listing(official_dir, description), audio_feature(description)
    records = []
    for raw_id in video_ids:
        vid = description.video_id(raw_id)
        have = [f for f in features if vid in present[f]]
        if not have:
            records.append(make_record(vid, "", "missing", "no official features"))
        elif len(have) < len(features):
            lacking = ", ".join(description.released_features[f].folder for f in features if f not in have)
            records.append(make_record(vid, str(feature_path(official_dir, have[0], vid, description)), "skipped",
                                 f"incomplete official features: no {lacking}", decoder=DECODER))
        else:
            path = feature_path(official_dir, audio, vid, description)
            segments = description.segments if description.fixed_length else released_rows(path, audio, description)
            records.append(make_record(vid, str(path), "used", duration_s=segments * description.segment_s,
                                       has_audio=1, decoder=DECODER))
    return records


def rows_problem(official_dir: str | os.PathLike, video_id: str, description: DatasetDescription) -> str | None:
    """Why a video's released files of any length cannot be used together (their rows differ,
    or there are none), from their headers; None when they can. Files that are absent are left
    to the caller."""
    rows = {f: released_rows(path, f, description) for f in description.released_features
            if description.released_features[f].shape[0] is None
            and (path := feature_path(official_dir, f, video_id, description)).is_file()}
    if len(set(rows.values())) > 1:
        return "rows differ: " + ", ".join(f"{description.released_features[f].folder} {n}" for f, n in rows.items())
    if rows and not any(rows.values()):
        return f"no rows: {feature_path(official_dir, next(iter(rows)), video_id, description)} has none"
    return None


def read_released(path, shape: tuple[int | None, ...], expected: str) -> np.ndarray:
    """One released .npy file (a path, or a zipfile.Path member), its header checked against
    `shape` before its data is read (data/npy.py); `expected` says what such files are, for the
    message. OfficialFeatureError naming the file otherwise."""
    try:
        return read_npy(path, shape, expected=expected)
    except NpyError as exc:
        raise OfficialFeatureError(str(exc)) from exc


def released_shape(path: Path) -> tuple[int, ...]:
    """A released .npy file's shape, from its header alone."""
    try:
        return read_npy_shape(path)
    except NpyError as exc:
        raise OfficialFeatureError(str(exc)) from exc


def load_exact(path: str | os.PathLike, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """One released file as float32 of exactly `shape` (None: any rows; `what` the files are, for
    the message); OfficialFeatureError naming the file otherwise."""
    path = Path(path)
    array = read_released(path, shape, f"{what} are {shape_text(shape)}").astype(np.float32)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise OfficialFeatureError(f"{path}: {bad} NaN/inf values")
    return array


def load_official(path: str | os.PathLike, feature: str, description: DatasetDescription = LLP) -> np.ndarray:
    """One official file as float32 of the release's shape; OfficialFeatureError otherwise."""
    released = description.released_features[feature]
    return load_exact(path, released.shape, f"the official {released.folder} features")


def import_shard(feature: str, records: Sequence[ManifestRecord], official_dir: str | os.PathLike,
                 out_store: str | os.PathLike, description: DatasetDescription = LLP) -> dict:
    """Write the official `feature` of a shard's manifest records into one store (ragged when
    the release's rows vary with the video).

    Every record whose status is "used" gets its file; a used record without a file (possible when
    the manifest was made from videos) is recorded in the store's "skipped" attr as
    "no official feature file", and one whose files disagree on their rows (rows_problem) with
    that reason, so manifest plus skips still account for every video.
    """
    released = description.released_features[feature]
    ragged = released.shape[0] is None
    ids, arrays, skipped = [], [], []
    for record in records:
        if record["status"] != "used":
            continue
        path = feature_path(official_dir, feature, record["video_id"], description)
        if not path.is_file():
            skipped.append([record["video_id"], f"no official feature file: {path}"])
            continue
        problem = rows_problem(official_dir, record["video_id"], description) if ragged else None
        if problem:
            skipped.append([record["video_id"], problem])
            continue
        arrays.append(load_official(path, feature, description))
        ids.append(record["video_id"])
    features = arrays if ragged else np.stack(arrays) if arrays else np.zeros((0, *released.shape), np.float32)
    write_store(out_store, features, ids, {
        "feature": feature, "model": f"official {released.folder}",
        "weights": f"official pre-extracted features ({description.features_release})", "weights_sha256": "",
        "sampling": {**released.sampling, "source": str(Path(official_dir).resolve())},
        "skipped": skipped}, shape=released.shape if ragged else None)
    return {"feature": feature, "store": str(out_store), "n_written": len(ids),
            "skipped": skipped, "shape": list(released.shape)}


SEGMENTS = 10


def first_feature_file(folder: str | os.PathLike) -> Path | None:
    """Any one <id>.npy of a released segment-feature folder (for checks before any job), or None."""
    with os.scandir(folder) as entries:
        return next((Path(e.path) for e in entries if e.name.endswith(".npy") and e.is_file()), None)


Check = Callable[[Path, tuple], str | None]  # a release's own shape check: a problem, or None


def segment_feature_width(path: str | os.PathLike, what: str = "CLIP", check: Check | None = None) -> int:
    """D of one [10, D] segment-feature file (`what`: CLIP, CLAP), from its header alone."""
    path = Path(path)
    shape = released_shape(path)
    problem = check(path, shape) if check else None
    if problem:
        raise OfficialFeatureError(problem)
    if len(shape) != 2 or shape[0] != SEGMENTS:
        raise OfficialFeatureError(f"{path}: shape {shape}, {what} segment features are [{SEGMENTS}, D]")
    return shape[1]


def load_segment_features(path: str | os.PathLike, width: int | None, what: str = "CLIP",
                          check: Check | None = None) -> np.ndarray:
    """One [10, D] file as float32 (D = width when given); OfficialFeatureError otherwise."""
    path = Path(path)
    problem = check(path, released_shape(path)) if check else None
    if problem:
        raise OfficialFeatureError(problem)
    expected = f"expected [{SEGMENTS}, {width if width is not None else 'D'}] like the other {what} feature files"
    array = read_released(path, (SEGMENTS, width), expected).astype(np.float32)
    if not np.isfinite(array).all():
        raise OfficialFeatureError(f"{path}: {int((~np.isfinite(array)).sum())} NaN/inf values")
    return array


def read_released_files(records: Sequence[ManifestRecord], folder: str | os.PathLike,
                        load: Callable[[Path], np.ndarray], missing: str, shape: Sequence[int]
                        ) -> tuple[list[str], np.ndarray, list[list[str]]]:
    """The <id>.npy file of every used video of a shard, read by `load`: the ids found, their
    arrays stacked ([N, *shape], float32) and a skip "<missing>: <path>" for each video without
    its file (a release may lack a few videos; they are recorded, not lost)."""
    ids, arrays, skipped = [], [], []
    for record in records:
        if record["status"] != "used":
            continue
        path = Path(folder) / f"{record['video_id']}.npy"
        if not path.is_file():
            skipped.append([record["video_id"], f"{missing}: {path}"])
            continue
        arrays.append(load(path))
        ids.append(record["video_id"])
    return ids, (np.stack(arrays) if arrays else np.zeros((0, *shape), np.float32)), skipped


def import_segment_shard(feature: str, records: Sequence[ManifestRecord], folder: str | os.PathLike,
                         out_store: str | os.PathLike, model: str, sampling: dict, what: str,
                         check: Check | None = None) -> dict:
    """The `feature` store of a shard from released [10, D] segment features (CLIP image or CLAP
    audio embeddings), with their provenance.

    A used video without its file is recorded in the store's "skipped" attr ("no <what> feature
    file"): it still trains the rows that do not need these pseudo labels, and the others leave
    it out.
    """
    sample = first_feature_file(folder)
    if sample is None:
        raise OfficialFeatureError(f"{folder}: no <id>.npy {what} feature files")
    width = segment_feature_width(sample, what, check)
    ids, features, skipped = read_released_files(
        records, folder, lambda path: load_segment_features(path, width, what, check),
        missing=f"no {what} feature file", shape=(SEGMENTS, width))
    write_store(out_store, features, ids, {
        "feature": feature, "model": f"released {what} features ({model}, as configured)",
        "weights": "released pre-extracted features", "weights_sha256": "",
        "sampling": {"source": str(Path(folder).resolve()), "segments": SEGMENTS, **sampling},
        "skipped": skipped})
    return {"feature": feature, "store": str(out_store), "n_written": len(ids), "skipped": skipped,
            "shape": [SEGMENTS, width]}


def map_problems(key: str, folder: str | os.PathLike, shape: tuple[int, ...]) -> list[str]:
    """Problems with a folder of released feature maps (config key `key`), before any job:
    no <id>.npy in it, or one of another shape than `shape` (from its header alone)."""
    sample = first_feature_file(folder)
    if sample is None:
        return [f"config key '{key}': no <id>.npy feature maps in {folder}"]
    try:
        found = read_npy_shape(sample)
    except NpyError as exc:
        return [f"config key '{key}': {exc}"]
    if found != tuple(shape):
        return [f"config key '{key}': {sample} has shape {found}; feature maps of the whole clip of shape "
                f"{tuple(shape)} are expected here ([10, D] segment embeddings are another feature)"]
    return []


def import_map_shard(feature: str, records: Sequence[ManifestRecord], folder: str | os.PathLike,
                     out_store: str | os.PathLike) -> dict:
    """The `feature` store of a shard from released feature maps of the whole clip (its spec's
    ReleasedMaps: VALOR's CLAP/features), each file exactly the spec's shape, with the release's
    provenance. A used video without its file is recorded in the store's "skipped" attr, as for
    released segment features: the parsers that read these maps leave it out."""
    maps = REGISTRY[feature].maps
    what = f"the released {feature} feature maps"
    ids, features, skipped = read_released_files(records, folder, lambda path: load_exact(path, maps.shape, what),
                                                 missing=f"no {feature} file", shape=maps.shape)
    write_store(out_store, features, ids, {
        "feature": feature, "model": maps.provenance["model"], "weights": "released pre-extracted feature maps",
        "weights_sha256": "", "sampling": {"source": str(Path(folder).resolve()), **maps.provenance},
        "skipped": skipped})
    return {"feature": feature, "store": str(out_store), "n_written": len(ids), "skipped": skipped,
            "shape": list(maps.shape)}
