"""LLP annotation readers: weak (video-level) labels, dense eval labels, splits.

The dense ground truth is built exactly as the reference evaluation builds it
(docs/metric.md §2): rows are matched to videos by exact filename, each row sets a
half-open slice ``[int(onset):int(offset)]`` with Python slicing semantics, and rows of
unknown videos are ignored. Arrays are laid out [N, T, C] (architecture.md).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

CLASSES: tuple[str, ...] = (
    "Speech", "Car", "Cheering", "Dog", "Cat", "Frying_(food)", "Basketball_bounce",
    "Fire_alarm", "Chainsaw", "Cello", "Banjo", "Singing", "Chicken_rooster",
    "Violin_fiddle", "Vacuum_cleaner", "Baby_laughter", "Accordion", "Lawn_mower",
    "Motorcycle", "Helicopter", "Acoustic_guitar", "Telephone_bell_ringing",
    "Baby_cry_infant_cry", "Blender", "Clapping",
)
NUM_CLASSES = 25
NUM_SEGMENTS = 10
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

SPLIT_FILES = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
SPLITS = tuple(SPLIT_FILES)
AUDIO_EVENTS = "AVVP_eval_audio.csv"
VISUAL_EVENTS = "AVVP_eval_visual.csv"
FULL_FILE = "AVVP_dataset_full.csv"  # every video with its weak labels (not read by the workflow)
EVAL_FILES = (*SPLIT_FILES.values(), AUDIO_EVENTS, VISUAL_EVENTS)  # what a run reads
ANNOTATION_FILES = (*EVAL_FILES, FULL_FILE)  # the six files of the LLP release

_WEAK_HEADER = ["filename", "event_labels"]
_DENSE_HEADER = ["filename", "onset", "offset", "event_labels"]

StrPath = str | PathLike[str]


def video_id(filename: str) -> str:
    """YouTube id of an LLP filename: the first 11 characters (ids may contain '_')."""
    if len(filename) < 11:
        raise ValueError(f"filename {filename!r} is shorter than an 11-character video id")
    return filename[:11]


def _read_rows(path: StrPath, header: list[str]) -> list[tuple[int, list[str]]]:
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


def _class_index(name: str, path: StrPath, lineno: int) -> int:
    try:
        return CLASS_INDEX[name]
    except KeyError:
        raise ValueError(f"{path}: line {lineno}: unknown class {name!r}") from None


def read_weak_labels(path: StrPath) -> tuple[list[str], np.ndarray]:
    """Filenames in file order and their video-level labels [N, 25] uint8."""
    rows = _read_rows(path, _WEAK_HEADER)
    filenames: list[str] = []
    labels = np.zeros((len(rows), NUM_CLASSES), dtype=np.uint8)
    first_line: dict[str, int] = {}
    for i, (lineno, (filename, events)) in enumerate(rows):
        if filename in first_line:
            raise ValueError(f"{path}: line {lineno}: duplicate filename {filename!r} "
                             f"(first on line {first_line[filename]})")
        first_line[filename] = lineno
        filenames.append(filename)
        for name in events.split(",") if events else []:
            labels[i, _class_index(name, path, lineno)] = 1
    return filenames, labels


def read_dense_labels(filenames: list[str], events_csv: StrPath) -> np.ndarray:
    """Dense [N, 10, 25] uint8 labels of `filenames` from an onset/offset event file (metric.md §2)."""
    positions: dict[str, list[int]] = defaultdict(list)
    for i, filename in enumerate(filenames):
        positions[filename].append(i)
    dense = np.zeros((len(filenames), NUM_SEGMENTS, NUM_CLASSES), dtype=np.uint8)
    for lineno, (filename, onset, offset, event) in _read_rows(events_csv, _DENSE_HEADER):
        c = _class_index(event, events_csv, lineno)
        try:
            start, stop = int(onset), int(offset)
        except ValueError:
            raise ValueError(f"{events_csv}: line {lineno}: onset/offset must be integers, "
                             f"got {onset!r}, {offset!r}") from None
        for i in positions.get(filename, ()):
            dense[i, start:stop, c] = 1
    return dense


def stray_eval_rows(annotation_dir: StrPath) -> list[str]:
    """The dense evaluation rows that mark nothing the evaluation scores, each named
    "<file>: line <n>: <filename> ...": rows naming no video of val or test (the reference drops
    them: a wrong annotation folder would score against all-zero ground truth) and rows with
    onset after offset (an empty slice)."""
    root = Path(annotation_dir)
    evaluated = {name for split in ("val", "test") for name in read_weak_labels(root / SPLIT_FILES[split])[0]}
    found = []
    for events in (root / AUDIO_EVENTS, root / VISUAL_EVENTS):
        for lineno, (filename, onset, offset, _) in _read_rows(events, _DENSE_HEADER):
            if filename not in evaluated:
                found.append(f"{events}: line {lineno}: {filename!r} is no video of val or test")
                continue
            try:
                inverted = int(onset) > int(offset)
            except ValueError:
                continue  # read_dense_labels names it
            if inverted:
                found.append(f"{events}: line {lineno}: {filename!r} has onset {onset} after offset {offset}")
    return found


def check_eval_rows(annotation_dir: StrPath, setting: str = "error") -> list[str]:
    """stray_eval_rows counted and named: ValueError for setting "error"; for "warn", the
    warning to log (an empty list when there are none). The LLP release itself has such rows
    (8 malformed filenames, one row with onset after offset): config/llp.yaml says warn."""
    rows = stray_eval_rows(annotation_dir)
    if not rows:
        return []
    shown = "\n  ".join(rows[:30]) + (f"\n  ... and {len(rows) - 30} more" if len(rows) > 30 else "")
    message = f"{len(rows)} dense evaluation rows mark nothing the evaluation scores:\n  {shown}"
    if setting == "error":
        raise ValueError(f"{message}\nset dataset.stray_eval_rows: warn to evaluate without them "
                         "(as the reference evaluation does)")
    return [f"warning: {message}"]


@dataclass
class Split:
    """One LLP split in file order; dense GT is None where no eval annotations apply."""
    name: str
    filenames: list[str]
    video_ids: list[str]
    weak_labels: np.ndarray
    gt_audio: np.ndarray | None
    gt_visual: np.ndarray | None


def load_split(annotation_dir: StrPath, split: str) -> Split:
    """Read a split; val/test also get dense GT when both eval files are present."""
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_FILES)}")
    root = Path(annotation_dir)
    split_path = root / SPLIT_FILES[split]
    if not split_path.is_file():
        raise FileNotFoundError(f"split file not found: {split_path}")
    filenames, weak = read_weak_labels(split_path)
    ids = [video_id(f) for f in filenames]
    gt_audio = gt_visual = None
    if split != "train":
        eval_paths = [root / AUDIO_EVENTS, root / VISUAL_EVENTS]
        present = [p.is_file() for p in eval_paths]
        if any(present) and not all(present):
            missing = eval_paths[present.index(False)]
            raise FileNotFoundError(f"eval annotation file not found: {missing}")
        if all(present):
            gt_audio = read_dense_labels(filenames, eval_paths[0])
            gt_visual = read_dense_labels(filenames, eval_paths[1])
    return Split(split, filenames, ids, weak, gt_audio, gt_visual)
