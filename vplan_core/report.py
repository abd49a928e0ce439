"""The run's report: the ablation table in the paper's layout, pseudo-label quality tables
(Tables I and II), per-class visual F1 of rows 1 and 5, and GT-vs-prediction timelines."""
from __future__ import annotations

from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vplan_core.ablation import ROW_TITLES  # noqa: E402
from vplan_core.llp import CLASSES, Split  # noqa: E402
from vplan_core.metrics import binarize  # noqa: E402

METRIC_KEYS = ("audio", "visual", "audio_visual", "type_at_av", "event_at_av")


def _fmt(values) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def ablation_table(evals: dict[str, dict]) -> str:
    """Markdown: one row per ablation row, segment and event level A / V / AV / Type@AV / Event@AV."""
    lines = ["| row | segment A / V / AV / Type@AV / Event@AV | event A / V / AV / Type@AV / Event@AV |",
             "|---|---|---|"]
    for row, scores in evals.items():
        seg = [scores["segment_level"][k] for k in METRIC_KEYS]
        evt = [scores["event_level"][k] for k in METRIC_KEYS]
        lines.append(f"| {ROW_TITLES[row]} | {_fmt(seg)} | {_fmt(evt)} |")
    return "\n".join(lines)


def quality_tables(quality: dict) -> tuple[str, str]:
    """Table I (video-level precision/recall) and Table II (segment/event F) as markdown."""
    names = {"video_label": "video label as visual label", "plg": "PLG", "pld": "PLG + PLD"}
    table1 = ["| visual label | precision | recall |", "|---|---|---|"]
    for key, pr in quality["video_level"].items():
        table1.append(f"| {names[key]} | {pr['precision']:.2f} | {pr['recall']:.2f} |")
    table2 = ["| visual label | segment-level F | event-level F |", "|---|---|---|"]
    for key, f in quality["segment_event"].items():
        table2.append(f"| {names[key]} | {f['segment_f']:.2f} | {f['event_f']:.2f} |")
    return "\n".join(table1), "\n".join(table2)


def per_class_visual_f1(pred: dict, split: Split) -> np.ndarray:
    """Segment-level visual F1 per class, counts pooled over all videos (nan: class never present)."""
    index = {name: i for i, name in enumerate(split.filenames)}
    order = [index[str(name)] for name in pred["video_ids"]]
    _, so_v = binarize(pred["audio_prob"], pred["visual_prob"], pred.get("video_prob"))
    gt = split.gt_visual[order].astype(np.int64)
    so = so_v.astype(np.int64)
    tp = (so * gt).sum(axis=(0, 1))
    fp = (so * (1 - gt)).sum(axis=(0, 1))
    fn = ((1 - so) * gt).sum(axis=(0, 1))
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), np.nan) * 100


def plot_per_class(f1_by_row: dict[str, np.ndarray], path: str | Path) -> None:
    fig, ax = plt.subplots(figsize=(12, 4))
    width = 0.8 / len(f1_by_row)
    x = np.arange(len(CLASSES))
    for i, (row, f1) in enumerate(f1_by_row.items()):
        ax.bar(x + i * width, np.nan_to_num(f1), width, label=ROW_TITLES[row])
    ax.set_xticks(x + width * (len(f1_by_row) - 1) / 2, CLASSES, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("segment-level visual F1 (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def timeline_videos(split: Split, n: int) -> list[int]:
    """The first n test videos with both audible and visible events (deterministic choice)."""
    both = np.flatnonzero(split.gt_audio.any(axis=(1, 2)) & split.gt_visual.any(axis=(1, 2)))
    return both[:n].tolist()


def plot_timelines(pred: dict, split: Split, videos: list[int], path: str | Path, row_title: str) -> None:
    """Per clip: GT and predicted audio/visual events on the 10 one-second segments."""
    index = {str(name): i for i, name in enumerate(pred["video_ids"])}
    so_a, so_v = binarize(pred["audio_prob"], pred["visual_prob"], pred.get("video_prob"))
    fig, axes = plt.subplots(max(len(videos), 1), 1, figsize=(10, 2.2 * max(len(videos), 1)), squeeze=False)
    for ax, v in zip(axes[:, 0], videos):
        p = index[split.filenames[v]]
        tracks = [("GT audio", split.gt_audio[v]), ("pred audio", so_a[p]),
                  ("GT visual", split.gt_visual[v]), ("pred visual", so_v[p])]
        classes = sorted({c for _, m in tracks for c in np.flatnonzero(m.any(axis=0))})
        rows, labels = [], []
        for name, matrix in tracks:
            for c in classes:
                rows.append(matrix[:, c])
                labels.append(f"{name}: {CLASSES[c]}")
        ax.imshow(np.array(rows) if rows else np.zeros((1, 10)), aspect="auto", cmap="Greys", vmin=0, vmax=1,
                  interpolation="nearest", extent=(0, 10, len(rows) or 1, 0))
        ax.set_yticks(np.arange(len(rows)) + 0.5, labels, fontsize=7)
        ax.set_xticks(range(11))
        ax.set_title(f"{split.filenames[v]} ({row_title})", fontsize=9)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_markdown(template_path: str | Path, **fields: str) -> str:
    return Template(Path(template_path).read_text()).substitute(**fields)
