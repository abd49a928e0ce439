"""The run's report: the ablation table in the paper's layout, Table V (other parser families on
the same labels), pseudo-label quality tables (Tables I and II) per modality (PLG's labels,
VALOR's released ones when the run trains on them, and PLD's refinements), per-class visual F1
of rows 1 and 5, and GT-vs-prediction timelines. Row and family titles come from their
descriptions (vplan_core.method.ablation.ROWS, vplan_core.models.FAMILIES).

Every number is a mean over the seeds with its standard deviation (sample std, ddof = 1; 0 for
one seed); report.json keeps each seed's numbers as well (seed_summary)."""
from __future__ import annotations

from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vplan_core.method.ablation import LABEL_KINDS, PLG, ROWS  # noqa: E402
from vplan_core.data.llp import CLASSES, Split  # noqa: E402
from vplan_core.evaluation.metrics import binarize  # noqa: E402

METRIC_KEYS = ("audio", "visual", "audio_visual", "type_at_av", "event_at_av")


def _mean_std(values: list) -> tuple:
    """Mean and std over seeds of equally shaped nested dicts of numbers."""
    if isinstance(values[0], dict):
        pairs = {key: _mean_std([v[key] for v in values]) for key in values[0]}
        return {k: m for k, (m, _) in pairs.items()}, {k: sd for k, (_, sd) in pairs.items()}
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def seed_summary(per_seed: list[dict], seeds: list[int]) -> dict:
    """{...the mean over seeds, in the layout of one seed's dict, "std": the same layout,
    "per_seed": [{"seed": s, ...that seed's dict}]}."""
    mean, std = _mean_std(per_seed)
    return {**mean, "std": std, "per_seed": [{"seed": seed, **entry} for seed, entry in zip(seeds, per_seed)]}


def _cell(summary: dict, *keys: str) -> str:
    mean, std = summary, summary["std"]
    for key in keys:
        mean, std = mean[key], std[key]
    return f"{mean:.1f} ± {std:.1f}"


def ablation_summary(evals: dict[str, list[dict]]) -> dict[str, dict]:
    """Row -> seed_summary of its metrics; evals: row -> the evaluate_row files of its seed groups."""
    out = {}
    for row, files in evals.items():
        seeds = [seed for f in files for seed in f["seeds"]]
        per_seed = [{level: scores[level] for level in ("segment_level", "event_level")}
                    for f in files for scores in f["per_seed"]]
        out[row] = {**seed_summary(per_seed, seeds), "videos": files[0]["per_seed"][0]["videos"]}
    return out


def ablation_table(ablation: dict[str, dict]) -> str:
    """Markdown: one row per ablation row, segment then event level A / V / AV / Type@AV /
    Event@AV, each cell mean ± std over seeds."""
    names = ("A", "V", "AV", "Type@AV", "Event@AV")
    lines = []
    for level, title in (("segment_level", "segment level"), ("event_level", "event level")):
        lines += [f"| row ({title}) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [f"| {ROWS[row].title} | " + " | ".join(_cell(summary, level, k) for k in METRIC_KEYS) + " |"
                  for row, summary in ablation.items()]
        lines.append("")
    return "\n".join(lines).rstrip()


def table_v(summaries: dict[str, dict[str, dict]]) -> str:
    """Markdown: Table V, each parser's rows (its own loss, PLG, PLD) beside the paper's figures
    for that family (vplan_core.models: Family.paper); cells mean ± std over seeds.
    summaries: parser -> row -> summary, the first parser's restricted to Table V's rows. A
    family is labelled by its title, a recipe of one (models.<name>.family) by its name and
    without the paper's figures (those are of the family's own recipe)."""
    from vplan_core.models import FAMILIES, family

    names = ("A", "V", "AV", "Type@AV", "Event@AV")
    lines = []
    for level, title, offset in (("segment_level", "segment level", 0), ("event_level", "event level", 5)):
        lines += [f"| parser, labels ({title}) | " + " | ".join(names) + " | paper |", "|---" * (len(names) + 2) + "|"]
        for model, rows in summaries.items():
            label, figures = (family(model).title, family(model).paper) if model in FAMILIES else (model, {})
            for row, summary in rows.items():
                paper = figures.get(row)
                cited = " / ".join(f"{v:.1f}" for v in paper[offset:offset + 5]) if paper else "-"
                lines.append(f"| {label} {ROWS[row].short_title} | "
                             + " | ".join(_cell(summary, level, k) for k in METRIC_KEYS) + f" | {cited} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def quality_summary(files: list[dict]) -> dict:
    """The label-quality files of all seed groups -> the label_quality layout with every row
    (a label set's precision/recall, or segment/event F) as a seed_summary."""
    seeds = [seed for f in files for seed in f["seeds"]]
    per_seed = [q for f in files for q in f["per_seed"]]
    parts = [part for part in ("video_level", "segment_event", "pld_study") if part in per_seed[0]]
    return {"videos": per_seed[0]["videos"], "left_out": files[0].get("left_out", []),
            **{part: {name: seed_summary([q[part][name] for q in per_seed], seeds) for name in per_seed[0][part]}
               for part in parts}}


def quality_source(quality: dict) -> str:
    """The kind of labels PLD refined in a quality_summary (ablation.LABEL_KINDS: plg, released):
    its label set beside PLD's."""
    return next(name for name in quality["segment_event"] if name != "pld")


def refined_with(stage1: str, quality: dict) -> str:
    """Whose models refined the labels: the stage-1 row's mark, and the labels it trained on
    when they are not PLG's (row ④ trains on either)."""
    source = quality_source(quality)
    return f"{ROWS[stage1].title.split()[0]}'s models" + ("" if source == PLG else f" (on {LABEL_KINDS[source].title})")


def quality_tables(quality: dict[str, dict], modality: str) -> tuple[str, str]:
    """Table I (video-level precision/recall) and Table II (segment/event F) as markdown, of one
    modality's labels: the video label, then each stage-1 source (PLG's labels, VALOR's released
    ones) followed by PLD's refinement of it with each stage-1 row's models.
    quality: stage-1 row -> quality_summary."""
    sets = [("video_label", f"video label as {modality} label", next(iter(quality.values())))]
    for source in dict.fromkeys(quality_source(summary) for summary in quality.values()):
        refined = {stage1: summary for stage1, summary in quality.items() if quality_source(summary) == source}
        sets.append((source, LABEL_KINDS[source].title, next(iter(refined.values()))))
        sets += [("pld", f"{LABEL_KINDS[source].title} + PLD ({ROWS[stage1].title.split()[0]}'s models)", summary)
                 for stage1, summary in refined.items()]
    table1 = [f"| {modality} label | precision | recall |", "|---|---|---|"]
    table1 += [f"| {name} | {_cell(s['video_level'][key], 'precision')} | {_cell(s['video_level'][key], 'recall')} |"
               for key, name, s in sets]
    table2 = [f"| {modality} label | segment-level F | event-level F |", "|---|---|---|"]
    table2 += [f"| {name} | {_cell(s['segment_event'][key], 'segment_f')} | {_cell(s['segment_event'][key], 'event_f')} |"
               for key, name, s in sets if key in s["segment_event"]]
    return "\n".join(table1), "\n".join(table2)


def pld_study_table(quality: dict, configured: str) -> str:
    """PLD's K and α studied on val (the paper's Table II grid), the configured setting marked."""
    if "pld_study" not in quality:
        return "Not computed: set pld.study (a grid of k and alpha) to study PLD's settings on val."
    source = quality_source(quality)
    unrefined = quality["segment_event"][source]
    lines = ["| PLD setting | segment-level F | event-level F |", "|---|---|---|",
             f"| none ({LABEL_KINDS[source].title}) | {_cell(unrefined, 'segment_f')} | {_cell(unrefined, 'event_f')} |"]
    for name, f in quality["pld_study"].items():
        mark = " (configured)" if name == configured else ""
        lines.append(f"| {name}{mark} | {_cell(f, 'segment_f')} | {_cell(f, 'event_f')} |")
    return "\n".join(lines)


def label_quality_section(quality: dict[str, dict[str, dict]], configured: str) -> str:
    """Markdown: per modality, Tables I and II and PLD's study with each stage-1 row's models.
    quality: modality -> stage-1 row -> quality_summary."""
    if not quality:
        return "Not computed: no PLD labels in this run (see the skipped rows above)."
    parts = []
    for modality, by_stage1 in quality.items():
        table1, table2 = quality_tables(by_stage1, modality)
        scored = "; ".join(f"with {refined_with(stage1, summary)} {summary['videos']} val videos"
                           + (f", left out for want of labels: {len(summary['left_out'])} "
                              f"({', '.join(sorted(summary['left_out']))})" if summary["left_out"] else "")
                           for stage1, summary in by_stage1.items())
        parts += [f"### {modality.capitalize()} labels", f"Scored: {scored}.", f"Video level (Table I):\n\n{table1}",
                  f"Segment and event level (Table II):\n\n{table2}"]
        parts += [f"PLD's K and α with {refined_with(stage1, summary)}:\n\n{pld_study_table(summary, configured)}"
                  for stage1, summary in by_stage1.items()]
    return "\n\n".join(parts)


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
    """f1_by_row: row -> [seeds, classes]; bars are the mean over seeds, whiskers one std."""
    fig, ax = plt.subplots(figsize=(12, 4))
    width = 0.8 / len(f1_by_row)
    x = np.arange(len(CLASSES))
    for i, (row, f1) in enumerate(f1_by_row.items()):
        f1 = np.nan_to_num(np.asarray(f1, dtype=np.float64))
        std = f1.std(axis=0, ddof=1) if len(f1) > 1 else None
        ax.bar(x + i * width, f1.mean(axis=0), width, yerr=std, label=ROWS[row].title, capsize=1.5)
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


def manifest_table(summary: dict) -> str:
    """The manifest summary as markdown: videos by status and reason, feature skips, extra files."""
    lines = ["| videos | count |", "|---|---|", f"| all named by the splits | {summary['total']} |"]
    lines += [f"| {status} | {n} |" for status, n in summary["by_status"].items()]
    lines += [f"| {reason} | {n} |" for reason, n in summary["by_reason"].items()]
    for feature, entry in summary.get("feature_skips", {}).items():
        if entry["total"]:
            reasons = ", ".join(f"{r}: {n}" for r, n in entry["by_reason"].items())
            lines.append(f"| used, but skipped by {feature} ({reasons}) | {entry['total']} |")
    if summary.get("extra", {}).get("total"):
        lines.append(f"| files in dataset.videos named by no split | {summary['extra']['total']} |")
    return "\n".join(lines)


def render_markdown(template: str, **fields: str) -> str:
    return Template(template).substitute(**fields)
