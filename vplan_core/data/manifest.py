"""Video manifests: which videos a run used, skipped or could not find, and why.

One TSV per shard, merged at the end (docs/architecture.md). Columns: video_id, path, status
(used | skipped | missing), reason, duration_s, fps, has_audio, decoder. Reasons are
"category" or "category: detail"; summaries count by category so that, e.g., every
"too short: 6.00 s < 9 s" lands in one "too short" bucket. A used video's reason is empty, or
says how much of its window's video has no audio and is padded with silence
("audio padded: 0.40 s"). Every requested video gets exactly
one record, so the counts of a summary always add up to the videos asked for.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypedDict

from .. import atomic
from .video import VideoError, check_usable, padding_note, probe

STATUSES = ("used", "skipped", "missing")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")


class ManifestRecord(TypedDict):
    """One video's line; a plain dict so scripts can filter with record["status"]."""

    video_id: str
    path: str
    status: str
    reason: str
    duration_s: float
    fps: float
    has_audio: int
    decoder: str


COLUMNS = tuple(ManifestRecord.__annotations__)


def make_record(video_id: str, path: str, status: str, reason: str = "", duration_s: float = 0.0,
             fps: float = 0.0, has_audio: int = 0, decoder: str = "") -> ManifestRecord:
    return ManifestRecord(video_id=video_id, path=path, status=status, reason=reason,
                       duration_s=duration_s, fps=fps, has_audio=has_audio, decoder=decoder)


def _index_video_dir(video_dir: Path) -> dict[str, list[Path]]:
    """11-char id -> files in video_dir whose name starts with it (LLP: <id>_<start>_<end>)."""
    index: dict[str, list[Path]] = {}
    for entry in sorted(video_dir.iterdir()) if video_dir.is_dir() else []:
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            index.setdefault(entry.name[:11], []).append(entry)
    return index


def probe_videos(video_ids: Sequence[str], video_dir: str | os.PathLike,
                 min_duration_s: float = 9.0, decoder: str = "auto", min_audio_s: float = 9.0
                 ) -> list[ManifestRecord]:
    """One record per requested id (ids longer than 11 chars are cut to the LLP key).

    missing: no file for the id. skipped: the file is unusable (VideoError, too short, audio
    covering too little of the window, or several files share the id). A video without audio is `used` with has_audio=0: the
    audio extractor records it as skipped for its feature only.
    """
    index = _index_video_dir(Path(video_dir))
    records = []
    for raw_id in video_ids:
        vid = raw_id[:11]
        files = index.get(vid, [])
        if not files:
            records.append(make_record(vid, "", "missing", "no file"))
            continue
        if len(files) > 1:
            records.append(make_record(vid, str(files[0]), "skipped",
                                 f"ambiguous: {len(files)} files share the id"))
            continue
        path = str(files[0])
        try:
            info = probe(path, decoder=decoder)
        except VideoError as exc:
            records.append(make_record(vid, path, "skipped", exc.summary))
            continue
        skip = check_usable(info, min_duration_s, min_audio_s)
        records.append(make_record(vid, path, "skipped" if skip else "used", skip or padding_note(info),
                             round(info.duration_s, 3), round(info.fps, 3),
                             int(info.has_audio), info.decoder))
    return records


def extra_videos(video_dir: str | os.PathLike | None, video_ids: Iterable[str]) -> dict:
    """Video files under video_dir (subfolders included) that no split names.

    They are not probed or used, but recorded, so a misnamed download or a video missing from
    the annotations does not vanish silently: {"total": n, "files": [path relative to video_dir]}.
    """
    known = {vid[:11] for vid in video_ids}
    root = Path(video_dir) if video_dir else None
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                   and p.name[:11] not in known) if root is not None and root.is_dir() else []
    return {"total": len(files), "files": files}


def _category(reason: str) -> str:
    return reason.split(":", 1)[0]


def _clean(text: object) -> str:
    """A reason on one line: FFmpeg's multi-line messages become one."""
    return " ".join(str(text).replace("\t", " ").split())


def write_manifest(path: str | os.PathLike, records: Iterable[ManifestRecord]) -> Path:
    """Write the TSV under a temporary name and rename it: readers never see half a file."""
    path = Path(path)
    with atomic.replacing(path, ".tmp") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for record in records:
            if record["status"] not in STATUSES:
                raise ValueError(f"{record['video_id']}: status {record['status']!r} not in {STATUSES}")
            # Paths are kept exactly (the csv module quotes a tab or a newline in one).
            writer.writerow([_clean(record[c]) if c == "reason" else record[c] for c in COLUMNS])
    return path


def read_manifest(path: str | os.PathLike) -> list[ManifestRecord]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: manifest columns {reader.fieldnames} != {list(COLUMNS)}")
        return [make_record(r["video_id"], r["path"], r["status"], r["reason"],
                         float(r["duration_s"] or 0), float(r["fps"] or 0),
                         int(r["has_audio"] or 0), r["decoder"]) for r in reader]


def merge_manifests(paths: Sequence[str | os.PathLike], out: str | os.PathLike
                    ) -> list[ManifestRecord]:
    """Concatenate shard manifests in the given order; a video in two shards is an error."""
    records: list[ManifestRecord] = []
    seen: dict[str, str | os.PathLike] = {}
    for path in paths:
        for record in read_manifest(path):
            vid = record["video_id"]
            if vid in seen:
                raise ValueError(f"video {vid} is in manifests {seen[vid]} and {path}")
            seen[vid] = path
            records.append(record)
    write_manifest(out, records)
    return records


def summarize(records: Sequence[ManifestRecord]) -> dict:
    """{"total", "by_status": {status: n}, "by_reason": {"status/category": n}}."""
    by_status = Counter({s: 0 for s in STATUSES})
    by_status.update(r["status"] for r in records)
    by_reason = Counter(f"{r['status']}/{_category(r['reason'])}" for r in records
                        if r["status"] != "used")
    return {"total": len(records), "by_status": dict(by_status), "by_reason": dict(by_reason)}
