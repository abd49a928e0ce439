"""Annotation readers of any data set described once (data/description.py): weak (video-level)
labels, of the video and of each modality, dense evaluation labels, splits.

The dense ground truth is built exactly as each data set's reference evaluation builds it
(docs/metric.md): rows are matched to videos by exact filename, each row sets the slice
``[int(onset):int(offset)]`` (LLP, end exclusive) or ``[int(onset):int(offset) + 1]`` (LFAV, end
inclusive) of the video's own segments with Python slicing semantics, so a row with onset after
offset marks nothing and an offset past the video's end stops at it; rows of unknown videos
are ignored. Arrays are laid out [N, T, C] (architecture.md); where videos differ in length, T
is the longest and each video's rows past its own length stay 0 (Split.lengths).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path

import numpy as np

from vplan_core.data.description import LLP, SPLITS, DatasetDescription

StrPath = str | PathLike[str]
DenseRow = tuple[int, str, str, str, str]  # line number, filename, onset, offset, label


def _read_rows(path: StrPath, header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every data row of a tab-separated file with a fixed header."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line.rstrip("\r\n") for line in f]
    expected = "\t".join(header)
    if not lines or lines[0] != expected:
        found = lines[0] if lines else "<empty file>"
        raise ValueError(f"{path}: line 1: expected header {expected!r}, got {found!r}")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line:
            continue  # blank lines carry nothing (pandas, used by the reference, skips them too)
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ValueError(
                f"{path}: line {lineno}: expected {len(header)} tab-separated fields, got {len(fields)}")
        rows.append((lineno, fields))
    return rows


def _class_index(name: str, path: StrPath, lineno: int, description: DatasetDescription) -> int | None:
    """A label's class, or None for a label the data set ignores (or skips, when unknown)."""
    index = description.class_index.get(name)
    if index is None and name not in description.ignored_labels and description.unknown_labels == "error":
        raise ValueError(f"{path}: line {lineno}: unknown class {name!r}")
    return index


def read_weak_labels(path: StrPath, description: DatasetDescription = LLP,
                     notes: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Filenames in file order and their video-level labels [N, C] uint8. Labels are stripped
    of surrounding spaces only where the data set skips unknown ones (LFAV's loader strips);
    skipped labels are appended to `notes`, one line each, naming file and line."""
    rows = _read_rows(path, description.weak_columns)
    lenient = description.unknown_labels == "skip"
    filenames: list[str] = []
    labels = np.zeros((len(rows), description.num_classes), dtype=np.uint8)
    first_line: dict[str, int] = {}
    for i, (lineno, (filename, events)) in enumerate(rows):
        if filename in first_line:
            raise ValueError(f"{path}: line {lineno}: duplicate filename {filename!r} "
                             f"(first on line {first_line[filename]})")
        first_line[filename] = lineno
        filenames.append(filename)
        for name in events.split(",") if events else []:
            name = name.strip() if lenient else name
            c = _class_index(name, path, lineno, description)
            if c is not None:
                labels[i, c] = 1
            elif name not in description.ignored_labels and notes is not None:
                notes.append(f"{path}: line {lineno}: unknown label {name!r} skipped")
    return filenames, labels


def read_dense_rows(events_csv: StrPath, description: DatasetDescription = LLP) -> list[DenseRow]:
    """Every row of an onset/offset event file, checked: integer onset and offset, a known class."""
    rows = []
    for lineno, (filename, onset, offset, event) in _read_rows(events_csv, description.dense_columns):
        _class_index(event, events_csv, lineno, description)
        try:
            int(onset), int(offset)
        except ValueError:
            raise ValueError(f"{events_csv}: line {lineno}: onset/offset must be integers, "
                             f"got {onset!r}, {offset!r}") from None
        rows.append((lineno, filename, onset, offset, event))
    return rows


def dense_labels(filenames: list[str], rows: list[DenseRow], lengths: np.ndarray,
                 description: DatasetDescription = LLP) -> np.ndarray:
    """Dense [N, max(lengths), C] uint8 labels of `filenames` (each `lengths[i]` segments long)
    from an event file's rows (metric.md)."""
    positions: dict[str, list[int]] = defaultdict(list)
    for i, filename in enumerate(filenames):
        positions[filename].append(i)
    lengths = np.asarray(lengths, dtype=np.int64)
    dense = np.zeros((len(filenames), int(lengths.max(initial=0)), description.num_classes), dtype=np.uint8)
    end = 1 if description.dense_end == "inclusive" else 0
    index = description.class_index
    for _, filename, onset, offset, event in rows:
        c = index.get(event)
        if c is None:
            continue  # an ignored label (read_dense_rows refused any other unknown one)
        start, stop = int(onset), int(offset) + end
        for i in positions.get(filename, ()):
            dense[i, :lengths[i]][start:stop, c] = 1
    return dense


def read_dense_labels(filenames: list[str], events_csv: StrPath, lengths: np.ndarray | None = None,
                      description: DatasetDescription = LLP) -> np.ndarray:
    """Dense labels of `filenames` from an event file (dense_labels; fixed-length data sets
    need no lengths)."""
    if lengths is None:
        lengths = np.full(len(filenames), description.segments)
    return dense_labels(filenames, read_dense_rows(events_csv, description), lengths, description)


def _dense_files(description: DatasetDescription) -> dict[str, list[str]]:
    """Each dense file and the splits whose videos it annotates."""
    files: dict[str, list[str]] = defaultdict(list)
    for split in SPLITS:
        for key in ("dense_audio", "dense_visual"):
            name = getattr(description.splits[split], key)
            if name and split not in files[name]:
                files[name].append(split)
    return files


def stray_eval_rows(annotation_dir: StrPath, description: DatasetDescription = LLP) -> list[str]:
    """The dense evaluation rows that mark nothing the evaluation scores, each named
    "<file>: line <n>: <filename> ...": rows naming no video of the splits the file annotates
    (the reference drops them: a wrong annotation folder would score against all-zero ground
    truth) and rows with onset after offset (an empty slice; LFAV's inclusive end: onset past
    offset + 1 would too, but a row one past is still empty, so onset > offset is the test)."""
    root = Path(annotation_dir)
    found = []
    for name, splits in _dense_files(description).items():
        evaluated = {f for split in splits for f in read_weak_labels(root / description.splits[split].weak, description)[0]}
        events = root / name
        for lineno, (filename, onset, offset, _) in _read_rows(events, description.dense_columns):
            if filename not in evaluated:
                found.append(f"{events}: line {lineno}: {filename!r} is no video of {' or '.join(splits)}")
                continue
            try:
                inverted = int(onset) > int(offset)
            except ValueError:
                continue  # read_dense_rows names it
            if inverted:
                found.append(f"{events}: line {lineno}: {filename!r} has onset {onset} after offset {offset}")
    return found


def check_eval_rows(annotation_dir: StrPath, setting: str = "error", description: DatasetDescription = LLP) -> list[str]:
    """stray_eval_rows counted and named: ValueError for setting "error"; for "warn", the
    warning to log (an empty list when there are none). The LLP release itself has such rows
    (8 malformed filenames, one row with onset after offset), LFAV's 37 with onset after
    offset: config/llp.yaml and config/lfav.yaml say warn."""
    rows = stray_eval_rows(annotation_dir, description)
    if not rows:
        return []
    shown = "\n  ".join(rows[:30]) + (f"\n  ... and {len(rows) - 30} more" if len(rows) > 30 else "")
    message = f"{len(rows)} dense evaluation rows mark nothing the evaluation scores:\n  {shown}"
    if setting == "error":
        raise ValueError(f"{message}\nset dataset.stray_eval_rows: warn to evaluate without them "
                         "(as the reference evaluation does)")
    return [f"warning: {message}"]


def dense_row_counts(split: Split, description: DatasetDescription = LLP) -> dict[str, int]:
    """How many of a split's dense rows (of its videos) the reference handles in a way of its own:
    onset after offset (marks nothing), zero length (LFAV: one second; LLP: nothing) and an
    offset past the video's end (cut at it). For the report; needs the split's lengths."""
    counts = {"rows": 0, "onset_after_offset": 0, "zero_length": 0, "past_end": 0}
    if split.events is None or split.lengths is None:
        return counts
    length = dict(zip(split.filenames, split.lengths.tolist()))
    end = 1 if description.dense_end == "inclusive" else 0
    for rows in split.events.values():
        for _, filename, onset, offset, _ in rows:
            if filename not in length:
                continue
            start, stop = int(onset), int(offset)
            counts["rows"] += 1
            counts["onset_after_offset"] += start > stop
            counts["zero_length"] += start == stop
            counts["past_end"] += stop + end > length[filename]
    return counts


@dataclass
class Split:
    """One split in file order; dense GT is None where no eval annotations apply, or until the
    videos' lengths are known (a data set of videos of any length: with_lengths).
    weak_audio/weak_visual: each modality's video-level labels where the data set has them;
    lengths: each video's segment count; events: the dense rows (modality -> rows), kept to
    build the GT of any lengths; notes: what reading skipped (unknown labels), for the logs."""
    name: str
    filenames: list[str]
    video_ids: list[str]
    weak_labels: np.ndarray
    gt_audio: np.ndarray | None
    gt_visual: np.ndarray | None
    weak_audio: np.ndarray | None = None
    weak_visual: np.ndarray | None = None
    lengths: np.ndarray | None = None
    events: dict[str, list[DenseRow]] | None = None
    notes: list[str] = field(default_factory=list)


def with_lengths(split: Split, lengths: np.ndarray, description: DatasetDescription) -> Split:
    """The split with its videos' lengths and the dense GT of those lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (len(split.filenames),):
        raise ValueError(f"{len(lengths)} lengths for the {len(split.filenames)} videos of split {split.name!r}")
    if split.events is None:
        return replace(split, lengths=lengths)
    return replace(split, lengths=lengths,
                   gt_audio=dense_labels(split.filenames, split.events["audio"], lengths, description),
                   gt_visual=dense_labels(split.filenames, split.events["visual"], lengths, description))


def subset_split(split: Split, keep: list[int]) -> Split:
    """The split's videos at positions `keep`, in that order."""
    take = np.asarray(keep, dtype=int)
    pick = lambda a: None if a is None else a[take]  # noqa: E731
    return replace(split, filenames=[split.filenames[i] for i in keep], video_ids=[split.video_ids[i] for i in keep],
                   weak_labels=split.weak_labels[take], gt_audio=pick(split.gt_audio), gt_visual=pick(split.gt_visual),
                   weak_audio=pick(split.weak_audio), weak_visual=pick(split.weak_visual), lengths=pick(split.lengths))


def _modality_labels(root: Path, name: str | None, filenames: list[str], what: str,
                     description: DatasetDescription, notes: list[str]) -> np.ndarray | None:
    """A modality's video-level labels in the order of `filenames` (its file must list the same videos)."""
    if not name:
        return None
    path = root / name
    if not path.is_file():
        raise FileNotFoundError(f"{what} label file not found: {path}")
    names, labels = read_weak_labels(path, description, notes)
    index = {f: i for i, f in enumerate(names)}
    missing = [f for f in filenames if f not in index]
    if missing or len(names) != len(filenames):
        raise ValueError(f"{path}: lists {len(names)} videos, the split's video labels {len(filenames)}"
                         + (f"; no labels for {missing[:5]}" if missing else ""))
    return labels[[index[f] for f in filenames]]


def load_split(annotation_dir: StrPath, split: str, description: DatasetDescription = LLP) -> Split:
    """Read a split; val/test also get their dense rows when both eval files are present, and
    their dense GT at once when every video has the same length (else: with_lengths)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    root = Path(annotation_dir)
    files = description.splits[split]
    split_path = root / files.weak
    if not split_path.is_file():
        raise FileNotFoundError(f"split file not found: {split_path}")
    notes: list[str] = []
    filenames, weak = read_weak_labels(split_path, description, notes)
    ids = [description.video_id(f) for f in filenames]
    weak_audio = _modality_labels(root, files.weak_audio, filenames, "audio", description, notes)
    weak_visual = _modality_labels(root, files.weak_visual, filenames, "visual", description, notes)
    events = None
    if files.dense_audio:
        eval_paths = [root / files.dense_audio, root / files.dense_visual]
        present = [p.is_file() for p in eval_paths]
        if any(present) and not all(present):
            missing = eval_paths[present.index(False)]
            raise FileNotFoundError(f"eval annotation file not found: {missing}")
        if all(present):
            events = {"audio": read_dense_rows(eval_paths[0], description),
                      "visual": read_dense_rows(eval_paths[1], description)}
    loaded = Split(split, filenames, ids, weak, None, None, weak_audio, weak_visual, events=events, notes=notes)
    if description.fixed_length:
        return with_lengths(loaded, np.full(len(filenames), description.segments), description)
    return loaded
