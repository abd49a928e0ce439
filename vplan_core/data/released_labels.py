"""VALOR's released segment pseudo labels (huggingface.co/datasets/NTUBarista/valor_features:
CLIP.zip, CLAP.zip) as vplan labels npz, one per split: a label source beside PLG
(vplan_core.method.ablation RELEASED).

As published, each zip holds <name>/features/<id>.npy and <name>/segment_pseudo_labels/<id>.npy,
the labels int64 [10, 25] of 0/1 per 11-char LLP id (CLIP's label visual segments, CLAP's audio
ones). `dataset.released_labels.<modality>` names the zip itself, the folder it unzips to
(CLIP/, CLAP/), or a folder of <id>.npy label files. Only the label files are read here.

Planning reads a release's listing only (torch-free): its fingerprint reruns the import when
the files change, and its check stops a run before any job when it holds no labels.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np

from vplan_core.data.annotations import Split
from vplan_core.data.description import LLP

LABELS_FOLDER = "segment_pseudo_labels"


def _label_entry(name: str) -> bool:
    """A zip entry that is one video's labels (not macOS's resource-fork copies)."""
    entry = PurePosixPath(name)
    return entry.suffix == ".npy" and entry.parent.name == LABELS_FOLDER and entry.parts[0] != "__MACOSX"


def _label_folder(source: Path) -> Path:
    return source / LABELS_FOLDER if (source / LABELS_FOLDER).is_dir() else source


@contextlib.contextmanager
def label_files(source: str | os.PathLike) -> Iterator[dict[str, Path | zipfile.Path]]:
    """Video id -> its label file in a release, while the release is open (a zip's members are
    zipfile.Path, read through the one open archive); ValueError naming `source` when it is
    neither a folder nor a zip."""
    source = Path(source)
    if source.is_dir():
        with os.scandir(_label_folder(source)) as entries:
            yield {e.name[:-4]: Path(e.path) for e in entries if e.name.endswith(".npy") and e.is_file()}
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            yield {PurePosixPath(name).stem: zipfile.Path(archive, name)
                   for name in archive.namelist() if _label_entry(name)}
    else:
        raise ValueError(f"{source}: neither a folder nor a zip archive of VALOR's released labels")


def fingerprint(source: str | os.PathLike) -> str:
    """What a release's label files are, cheaply: a folder's names, sizes and times, a zip's
    entry names, sizes and CRCs (its own content checksums). The import's params carry it, so a
    changed, added or removed label file reruns the import and what depends on it."""
    source = Path(source)
    if source.is_dir():
        with os.scandir(_label_folder(source)) as entries:
            lines = sorted(f"{e.name} {e.stat().st_size} {e.stat().st_mtime_ns}" for e in entries
                           if e.name.endswith(".npy") and e.is_file())
    else:
        with zipfile.ZipFile(source) as archive:
            lines = sorted(f"{i.filename} {i.file_size} {i.CRC}" for i in archive.infolist() if _label_entry(i.filename))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def check_release(key: str, source: str | os.PathLike) -> list[str]:
    """Problems with a configured release (config key `key`), before any job: not a folder or
    zip, or no label files in it."""
    try:
        with label_files(source) as files:
            if files:
                return []
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        return [f"config key '{key}': {exc}"]
    return [f"config key '{key}': no <id>.npy segment pseudo labels in {source} (expected "
            f"{LABELS_FOLDER}/<id>.npy, as VALOR's CLIP.zip and CLAP.zip hold them, or <id>.npy files)"]


def load_valor_labels(path: str | Path | zipfile.Path, n_classes: int = LLP.num_classes) -> np.ndarray:
    """VALOR's released segment pseudo labels (CLAP/ or CLIP/segment_pseudo_labels/<id>.npy,
    int64 [10, 25] of 0/1) as uint8 [10, 25]; OfficialFeatureError naming the file otherwise.
    A zipfile.Path reads the file inside CLIP.zip or CLAP.zip as published, without unzipping;
    its header is checked before its data is read, so a member of another shape costs nothing."""
    from vplan_core.data.official import OfficialFeatureError, read_released

    array = read_released(path, (LLP.segments, n_classes),
                          f"VALOR's segment pseudo labels are [{LLP.segments}, {n_classes}]")
    if not np.isin(array, (0, 1)).all():
        raise OfficialFeatureError(f"{path}: values other than 0 and 1 (segment pseudo labels are binary)")
    return array.astype(np.uint8)


def import_split(source: str | os.PathLike, split: Split) -> tuple[list[str], np.ndarray, dict]:
    """A split's released labels: the ids that have a label file (split order), their labels
    [N, 10, 25] uint8 exactly as released, and what the import found: each video of the split
    without a file (counted and named, not dropped silently) and the (video, class) pairs
    labelled outside the video label (a release of other annotations would show here). A
    malformed file is an error naming it (load_valor_labels)."""
    with label_files(source) as files:
        keep = [i for i, vid in enumerate(split.video_ids) if vid in files]
        ids = [split.video_ids[i] for i in keep]
        labels = np.stack([load_valor_labels(files[vid]) for vid in ids]) if ids else \
            np.zeros((0, LLP.segments, LLP.num_classes), np.uint8)
    labelled = set(ids)
    missing = [vid for vid in split.video_ids if vid not in labelled]
    outside = labels.max(axis=1).astype(bool) & ~split.weak_labels[keep].astype(bool)
    return ids, labels, {"source": str(Path(source).resolve()), "split": split.name,
                         "videos": len(split.video_ids), "labelled": len(ids),
                         "missing": {"count": len(missing), "videos": missing},
                         "outside_video_label": int(outside.sum())}
