"""The run's report: the ablation table in the paper's layout, Table V (other parser families on
the same labels), pseudo-label quality tables (Tables I and II) per modality (PLG's labels,
VALOR's released ones when the run trains on them, and PLD's refinements), per-class visual F1
of rows 1 and 5, and GT-vs-prediction timelines. Row and family titles come from their
descriptions (vplan_core.method.ablation.ROWS, vplan_core.models.FAMILIES).

Every number is a mean over the seeds with its standard deviation (sample std, ddof = 1; 0 for
one seed); report.json keeps each seed's numbers as well (seed_summary). Beside the levels, each
row's difference from its control, paired by seed and marked where it is beyond seed noise
(vplan_core.evaluation.differences), and a paragraph on what the numbers can show."""
from __future__ import annotations

from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vplan_core.method.ablation import BASELINE_ROW, LABEL_KINDS, PLD, PLG, ROWS, pld  # noqa: E402
from vplan_core.data.annotations import Split  # noqa: E402
from vplan_core.evaluation.differences import ALPHA, paired_difference, t_critical  # noqa: E402
from vplan_core.evaluation.protocols import PROTOCOLS, Protocol  # noqa: E402

METRIC_KEYS = ("audio", "visual", "audio_visual", "type_at_av", "event_at_av")
METRIC_NAMES = ("A", "V", "AV", "Type@AV", "Event@AV")
LEVELS = (("segment_level", "segment level"), ("event_level", "event level"))
MAP_LEVEL = "segment_map"  # LFAV's protocol also scores segment-level mAP (docs/metric.md §9)
MAP_KEYS, MAP_NAMES = ("audio", "visual", "audio_visual", "average"), ("A", "V", "AV", "avg")
BEYOND_NOISE = "†"  # a difference beyond seed noise
WORSE_LABELS = "‡"  # a row trained on labels worse than the video label on val


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
        per_seed = [{level: scores[level] for level in ("segment_level", "event_level", MAP_LEVEL) if level in scores}
                    for f in files for scores in f["per_seed"]]
        out[row] = {**seed_summary(per_seed, seeds), "videos": files[0]["per_seed"][0]["videos"]}
    return out


def ablation_table(ablation: dict[str, dict], notes: dict[tuple, list[str]] | None = None) -> str:
    """Markdown: one row per ablation row, segment then event level A / V / AV / Type@AV /
    Event@AV, each cell mean ± std over seeds; the rows trained on labels worse than the video
    label (notes: label_notes) marked, and below the table which labels and which rows."""
    notes = shown_notes(notes or {}, ablation)
    lines = []
    for level, title in LEVELS:
        lines += [f"| row ({title}) | " + " | ".join(METRIC_NAMES) + " |", "|---" * (len(METRIC_NAMES) + 1) + "|"]
        lines += [f"| {_marked_title(row, notes)} | " + " | ".join(_cell(summary, level, k) for k in METRIC_KEYS) + " |"
                  for row, summary in ablation.items()]
        lines.append("")
    if all(MAP_LEVEL in summary for summary in ablation.values()):
        lines += ["| row (segment-level mAP) | " + " | ".join(MAP_NAMES) + " |", "|---" * (len(MAP_NAMES) + 1) + "|"]
        lines += [f"| {_marked_title(row, notes)} | " + " | ".join(_cell(summary, MAP_LEVEL, k) for k in MAP_KEYS) + " |"
                  for row, summary in ablation.items()]
        lines.append("")
    lines += [f"{WORSE_LABELS} {modality.capitalize()} labels {name}: segment-level F {f:.1f} on val, below the video "
              f"label's {video:.1f}; trained on by {', '.join(row_name(row) for row in rows)}."
              for (modality, name, f, video), rows in notes.items()]
    return "\n".join(lines).rstrip()


def row_name(row: str) -> str:
    """A row's title up to its colon: short, and tells the rows apart."""
    return ROWS[row].title.split(":")[0]


def shown_notes(notes: dict[tuple, list[str]], rows) -> dict[tuple, list[str]]:
    """label_notes restricted to the rows shown."""
    shown = {note: [row for row in noted if row in rows] for note, noted in notes.items()}
    return {note: noted for note, noted in shown.items() if noted}


def _marked_title(row: str, notes: dict[tuple, list[str]]) -> str:
    return ROWS[row].title + (f" {WORSE_LABELS}" if any(row in noted for noted in notes.values()) else "")


def table_v(summaries: dict[str, dict[str, dict]], cite_paper: bool = True) -> str:
    """Markdown: Table V, each parser's rows (its own loss, PLG, PLD) beside the paper's figures
    for that family (vplan_core.models: Family.paper); cells mean ± std over seeds.
    summaries: parser -> row -> summary, the first parser's restricted to Table V's rows. A
    family is labelled by its title, a recipe of one (models.<name>.family) by its name and
    without the paper's figures (those are of the family's own recipe); cite_paper false (a data
    set other than the paper's LLP) shows none."""
    from vplan_core.models import FAMILIES, family

    lines = []
    for level, title, offset in (("segment_level", "segment level", 0), ("event_level", "event level", 5)):
        lines += [f"| parser, labels ({title}) | " + " | ".join(METRIC_NAMES) + " | paper |",
                  "|---" * (len(METRIC_NAMES) + 2) + "|"]
        for model, rows in summaries.items():
            label, figures = parser_label(model), (family(model).paper if model in FAMILIES and cite_paper else {})
            for row, summary in rows.items():
                paper = figures.get(row)
                cited = " / ".join(f"{v:.1f}" for v in paper[offset:offset + 5]) if paper else "-"
                lines.append(f"| {label} {ROWS[row].short_title} | "
                             + " | ".join(_cell(summary, level, k) for k in METRIC_KEYS) + f" | {cited} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def parser_label(model: str) -> str:
    """A family by its title, a recipe of one (models.<name>.family) by its name."""
    from vplan_core.models import FAMILIES, family

    return family(model).title if model in FAMILIES else model


def seed_values(summary: dict, *keys: str) -> dict[int, float]:
    """seed -> one number of a seed_summary, at keys in one seed's dict."""
    out = {}
    for entry in summary["per_seed"]:
        value = entry
        for key in keys:
            value = value[key]
        out[entry["seed"]] = value
    return out


def row_difference(summary: dict, control: dict) -> dict:
    """level -> metric -> paired_difference of a row's test scores from its control's."""
    return {level: {k: paired_difference(seed_values(summary, level, k), seed_values(control, level, k))
                    for k in METRIC_KEYS} for level, _ in LEVELS}


def ablation_differences(ablation: dict[str, dict]) -> dict[str, dict]:
    """row -> {"control": its control (ROWS[row].control), level -> metric -> paired_difference},
    for the rows whose control this run trained."""
    return {row: {"control": ROWS[row].control, **row_difference(summary, ablation[ROWS[row].control])}
            for row, summary in ablation.items() if ROWS[row].control in ablation}


def table_v_differences(parsers: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """parser -> row -> {"control": row ①, ...}: each family's rows against its own loss (row ①),
    as Table V compares them."""
    return {model: {row: {"control": BASELINE_ROW, **row_difference(summary, rows[BASELINE_ROW])}
                    for row, summary in rows.items() if row != BASELINE_ROW}
            for model, rows in parsers.items() if BASELINE_ROW in rows}


def _difference_cell(d: dict) -> str:
    mean = f"{d['mean']:+.1f}".replace("-0.0", "+0.0")  # a difference that rounds to nothing has no sign
    return f"{mean} ± {d['std']:.1f}" + (f" {BEYOND_NOISE}" if d["beyond_noise"] else "")


def difference_table(entries: list[tuple[str, str, dict]]) -> str:
    """Markdown: per level, each (row, its control, row_difference) as mean ± std over seeds of the
    paired differences, marked where beyond noise."""
    if not entries:
        return "No row of this run has its control in the run."
    lines = []
    for level, title in LEVELS:
        lines += [f"| row ({title}) | minus | " + " | ".join(METRIC_NAMES) + " |",
                  "|---" * (len(METRIC_NAMES) + 2) + "|"]
        lines += [f"| {row} | {control} | " + " | ".join(_difference_cell(diff[level][k]) for k in METRIC_KEYS) + " |"
                  for row, control, diff in entries]
        lines.append("")
    return "\n".join(lines).rstrip()


def ablation_difference_table(diffs: dict[str, dict], notes: dict[tuple, list[str]] | None = None) -> str:
    return difference_table([(_marked_title(row, notes or {}), ROWS[d["control"]].title, d)
                             for row, d in diffs.items()])


def table_v_difference_table(diffs: dict[str, dict[str, dict]]) -> str:
    return (f"Each parser's rows minus its own loss (row ①), seed by seed ({BEYOND_NOISE}: beyond seed noise):\n\n"
            + difference_table([(f"{parser_label(model)} {ROWS[row].short_title}", ROWS[d["control"]].short_title, d)
                                for model, rows in diffs.items() for row, d in rows.items()]))


def quality_summary(files: list[dict]) -> dict:
    """The label-quality files of all seed groups -> the label_quality layout with every row
    (a label set's precision/recall, or segment/event F) as a seed_summary."""
    seeds = [seed for f in files for seed in f["seeds"]]
    per_seed = [q for f in files for q in f["per_seed"]]
    parts = [part for part in ("video_level", "segment_event", "pld_study") if part in per_seed[0]]
    return {"videos": per_seed[0]["videos"], "left_out": files[0].get("left_out", []),
            **{part: {name: seed_summary([q[part][name] for q in per_seed], seeds) for name in per_seed[0][part]}
               for part in parts}}


def with_video_label_segments(quality: dict[str, dict[str, dict]], val: Split) -> dict[str, dict[str, dict]]:
    """quality (modality -> stage-1 row -> quality_summary) with the video label's segment and
    event F added to each summary's segment_event, on the val videos it scored (left_out removed);
    the same for every seed, as the video label is."""
    from vplan_core.data.dataset import subset_split
    from vplan_core.evaluation.label_quality import video_label_segments

    out = {}
    for modality, by_stage1 in quality.items():
        out[modality] = {}
        for stage1, summary in by_stage1.items():
            left_out = set(summary["left_out"])
            scored = subset_split(val, [i for i, vid in enumerate(val.video_ids) if vid not in left_out])
            if len(scored.video_ids) != summary["videos"]:
                raise ValueError(f"{modality} labels of {stage1}: {summary['videos']} val videos scored, but the val "
                                 f"split less the {len(left_out)} left out has {len(scored.video_ids)}")
            f = video_label_segments(scored, modality)
            seeds = [entry["seed"] for entry in next(iter(summary["segment_event"].values()))["per_seed"]]
            segment_event = {"video_label": seed_summary([f] * len(seeds), seeds), **summary["segment_event"]}
            out[modality][stage1] = {**summary, "segment_event": segment_event}
    return out


def quality_source(quality: dict) -> str:
    """The kind of labels PLD refined in a quality_summary (ablation.LABEL_KINDS: plg, released):
    its label set beside PLD's."""
    return next(name for name in quality["segment_event"] if name not in ("pld", "video_label"))


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


def _label_name(key: str, stage1: str, source: str, modality: str) -> str:
    """A label set's name in the label-quality tables."""
    if key == "video_label":
        return f"video label as {modality} label"
    return LABEL_KINDS[source].title + (f" + PLD ({ROWS[stage1].title.split()[0]}'s models)" if key == PLD else "")


def quality_differences(by_stage1: dict[str, dict], modality: str) -> list[tuple[str, str, dict]]:
    """One modality's label sets against their controls, paired by seed: each stage-1 source
    (PLG's, VALOR's released labels) against the video label, PLD's refinement against its source.
    Each (name, control's name, part -> key -> paired_difference) for Tables I and II's numbers;
    the video label's segment and event F are the report's (with_video_label_segments)."""
    parts = (("video_level", ("precision", "recall")), ("segment_event", ("segment_f", "event_f")))
    out = {}
    for stage1, summary in by_stage1.items():
        source = quality_source(summary)
        for key, control in ((source, "video_label"), (PLD, source)):
            diff = {part: {k: paired_difference(seed_values(summary[part][key], k),
                                                seed_values(summary[part][control], k)) for k in keys}
                    for part, keys in parts if control in summary[part]}
            name = _label_name(key, stage1, source, modality)
            out.setdefault(name, (name, _label_name(control, stage1, source, modality), diff))
    return list(out.values())


def quality_difference_table(entries: list[tuple[str, str, dict]], modality: str) -> str:
    """Markdown: each label set minus its control at video level (Table I) and segment and event
    level (Table II), mean ± std over seeds of the paired differences, marked where beyond noise."""
    places = (("video_level", "precision"), ("video_level", "recall"), ("segment_event", "segment_f"),
              ("segment_event", "event_f"))
    lines = [f"| {modality} labels | minus | video-level precision | video-level recall | segment-level F | "
             "event-level F |", "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {control} | " + " | ".join(_difference_cell(diff[part][k]) if part in diff else "-"
                                                     for part, k in places) + " |"
              for name, control, diff in entries]
    return "\n".join(lines)


def label_notes(quality: dict[str, dict[str, dict]]) -> dict[tuple, list[str]]:
    """(modality, label set, its segment-level F on val, the video label's on every segment) ->
    the rows that train on that set, for each label set (a stage-1 source or PLD's refinement)
    below the video label; a source that several stage-1 rows trained on (scored on the val
    videos each could score) with the first one's numbers, as in the tables."""
    notes: dict[tuple, dict[str, None]] = {}
    first: dict[tuple, tuple] = {}  # (modality, label set) -> its note: the first stage-1 row's numbers
    for modality, by_stage1 in quality.items():
        for stage1, summary in by_stage1.items():
            scores, source = summary["segment_event"], quality_source(summary)
            if "video_label" not in scores:
                continue
            video = scores["video_label"]["segment_f"]
            for key, labels in ((source, ROWS[stage1].labels[modality]), (PLD, pld(stage1))):
                f = scores[key]["segment_f"]
                if f < video:
                    name = _label_name(key, stage1, source, modality)
                    rows = notes.setdefault(first.setdefault((modality, name), (modality, name, f, video)), {})
                    rows.update((row.name, None) for row in ROWS.values() if row.labels.get(modality) == labels)
    return {note: list(rows) for note, rows in notes.items() if rows}


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
        differences = quality_difference_table(quality_differences(by_stage1, modality), modality)
        parts += [f"### {modality.capitalize()} labels", f"Scored: {scored}.", f"Video level (Table I):\n\n{table1}",
                  f"Segment and event level (Table II):\n\n{table2}",
                  f"Each label set minus its control, paired by seed ({BEYOND_NOISE}: beyond seed noise):\n\n"
                  f"{differences}"]
        parts += [f"PLD's K and α with {refined_with(stage1, summary)}:\n\n{pld_study_table(summary, configured)}"
                  for stage1, summary in by_stage1.items()]
    return "\n\n".join(parts)


PLACE_NAMES = {**{(level, k): f"{title.split()[0]}-level {name}" for level, title in LEVELS
                   for k, name in zip(METRIC_KEYS, METRIC_NAMES)},
               ("video_level", "precision"): "video-level precision", ("video_level", "recall"): "video-level recall",
               ("segment_event", "segment_f"): "segment-level F", ("segment_event", "event_f"): "event-level F"}


def limits_paragraph(seeds: list[int], videos: dict, comparisons: list[tuple[str, str, dict]], demo: bool,
                     worse_labels: list[tuple]) -> str:
    """The report's first paragraph: how many seeds and test videos, the rule that marks a
    difference and what it can detect with these seeds, which differences it marked
    (comparisons: (row, its control, part -> key -> paired_difference) of every table), for the
    demo that its rows prove the pipeline runs and nothing about the method, and the label sets
    worse than the video label that shown rows train on (worse_labels: label_notes' keys)."""
    n = len(seeds)
    text = [f"**What these numbers can show.** Every row was trained with {n} seed{'s' * (n > 1)} ({seeds}) and "
            f"scored on {videos['evaluated']} test videos (of {videos['in_split']} in the split)."]
    tested = [(row, control, PLACE_NAMES[part, k], d) for row, control, diff in comparisons
              for part, cells in diff.items() if part != "control" for k, d in cells.items()]
    if n < 2:
        text.append("Each row is shown beside its control (the row it adds one thing to), but with one seed no "
                    "difference can be told from seed noise, and none is marked: train more seeds (train.seeds).")
    else:
        factor = t_critical(n - 1) / n ** 0.5
        text.append(f"Each row is compared with its control (the row it adds one thing to) seed by seed, as the "
                    f"same seed gives both the same initial weights, data order and dropout noise; a difference is "
                    f"marked {BEYOND_NOISE} where a paired t-test over the seeds finds it beyond seed noise "
                    f"(two-sided, {ALPHA:.0%}; docs/metric.md, \"Differences beyond noise\"). With {n} seeds a mean "
                    f"difference is marked only when it exceeds {factor:.1f} times the spread of the seeds' "
                    f"differences, so a small real effect can go unmarked; of the {len(tested)} differences tested, "
                    f"about {ALPHA * len(tested):.1f} would be marked by chance alone were nothing different.")
        marked: dict[tuple[str, str], list[str]] = {}
        for row, control, place, d in tested:
            if d["beyond_noise"]:
                marked.setdefault((row, control), []).append(f"{place} {d['mean']:+.1f}")
        text.append("Beyond noise: " + "; ".join(f"{row} minus {control}: {', '.join(places)}"
                                                  for (row, control), places in marked.items()) + "."
                    if marked else "No difference is beyond seed noise.")
    if demo:
        text.append("This is the demo: its backbones, CLIP and CLAP are small and trained in a synthetic world, so "
                    "its rows prove that the pipeline runs end to end and are no evidence for the method or against "
                    "it; where the method's orderings of the rows are shown, at a scale where they can be, is "
                    "docs/studies.md.")
    if worse_labels:
        text.append(f"Rows marked {WORSE_LABELS} train on labels whose segment-level F on val is below the video "
                    f"label's: {'; '.join(f'{modality} {name}' for modality, name, _, _ in worse_labels)} (the notes "
                    f"under the ablation table give the numbers).")
    return " ".join(text)


def plot_seed_points(ablation: dict[str, dict], diffs: dict[str, dict], path: str | Path) -> None:
    """Per row, its seeds' segment-level Type@AV as points around their mean (a bar), and, beside
    it in grey, its control's (ablation_differences), each seed's two points joined; the pair's
    label marked where the difference is beyond noise."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(ablation)), 4))
    labels = []
    for x, (row, summary) in enumerate(ablation.items()):
        shown = [(x + 0.15, summary, "C0")]
        label = row
        if row in diffs:
            control = diffs[row]["control"]
            shown.append((x - 0.15, ablation[control], "0.6"))
            beyond = diffs[row]["segment_level"]["type_at_av"]["beyond_noise"]
            label += f"\nvs {control}" + (f" {BEYOND_NOISE}" if beyond else "")
            mine, theirs = (seed_values(s, "segment_level", "type_at_av") for s in (summary, ablation[control]))
            for seed in sorted(set(mine) & set(theirs)):  # a seed's pair joined: the difference the test reads
                ax.plot([x - 0.15, x + 0.15], [theirs[seed], mine[seed]], color="0.8", linewidth=0.8, zorder=2)
        for position, scores, colour in shown:
            values = list(seed_values(scores, "segment_level", "type_at_av").values())
            ax.scatter([position] * len(values), values, color=colour, s=18, zorder=3)
            ax.hlines(np.mean(values), position - 0.1, position + 0.1, color=colour, linewidth=2)
        labels.append(label)
    ax.set_xticks(range(len(ablation)), labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("segment-level Type@AV (%), test")
    ax.set_title("each seed (points) and their mean (bar); grey: the row's control, a seed's two points joined",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_class_visual_f1(pred: dict, split: Split, protocol: Protocol = PROTOCOLS["llp"]) -> np.ndarray:
    """Segment-level visual F1 per class, counts pooled over all videos (nan: class never present);
    the segments binarised as the data set's protocol binarises them."""
    index = {name: i for i, name in enumerate(split.filenames)}
    order = [index[str(name)] for name in pred["video_ids"]]
    _, so_v = protocol.segments(pred)
    gt = split.gt_visual[order].astype(np.int64)
    so = so_v.astype(np.int64)
    tp = (so * gt).sum(axis=(0, 1))
    fp = (so * (1 - gt)).sum(axis=(0, 1))
    fn = ((1 - so) * gt).sum(axis=(0, 1))
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), np.nan) * 100


def plot_per_class(f1_by_row: dict[str, np.ndarray], path: str | Path, classes: tuple[str, ...]) -> None:
    """f1_by_row: row -> [seeds, classes]; bars are the mean over seeds, whiskers one std."""
    fig, ax = plt.subplots(figsize=(12 * max(1.0, len(classes) / 25), 4))
    width = 0.8 / len(f1_by_row)
    x = np.arange(len(classes))
    for i, (row, f1) in enumerate(f1_by_row.items()):
        f1 = np.nan_to_num(np.asarray(f1, dtype=np.float64))
        std = f1.std(axis=0, ddof=1) if len(f1) > 1 else None
        ax.bar(x + i * width, f1.mean(axis=0), width, yerr=std, label=ROWS[row].title, capsize=1.5)
    ax.set_xticks(x + width * (len(f1_by_row) - 1) / 2, classes, rotation=60, ha="right", fontsize=8)
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


def plot_timelines(pred: dict, split: Split, videos: list[int], path: str | Path, row_title: str,
                   classes: tuple[str, ...], protocol: Protocol = PROTOCOLS["llp"]) -> None:
    """Per clip: GT and predicted audio/visual events on its one-second segments."""
    index = {str(name): i for i, name in enumerate(pred["video_ids"])}
    so_a, so_v = protocol.segments(pred)
    fig, axes = plt.subplots(max(len(videos), 1), 1, figsize=(10, 2.2 * max(len(videos), 1)), squeeze=False)
    for ax, v in zip(axes[:, 0], videos):
        p = index[split.filenames[v]]
        tracks = [("GT audio", split.gt_audio[v]), ("pred audio", so_a[p]),
                  ("GT visual", split.gt_visual[v]), ("pred visual", so_v[p])]
        length = len(split.gt_audio[v]) if split.lengths is None else int(split.lengths[v])
        tracks = [(name, matrix[:length]) for name, matrix in tracks]
        shown = sorted({c for _, m in tracks for c in np.flatnonzero(m.any(axis=0))})
        rows, labels = [], []
        for name, matrix in tracks:
            for c in shown:
                rows.append(matrix[:, c])
                labels.append(f"{name}: {classes[c]}")
        ax.imshow(np.array(rows) if rows else np.zeros((1, length)), aspect="auto", cmap="Greys", vmin=0, vmax=1,
                  interpolation="nearest", extent=(0, length, len(rows) or 1, 0))
        ax.set_yticks(np.arange(len(rows)) + 0.5, labels, fontsize=7)
        ax.set_xticks(range(0, length + 1, max(1, length // 10)))
        ax.set_title(f"{split.filenames[v]} ({row_title})", fontsize=9)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def dense_rows_note(counts: dict | None) -> str:
    """A sentence on the test split's dense rows that its official evaluation handles in its own
    way (annotations.dense_row_counts), for a data set whose evaluation counts them."""
    if not counts:
        return ""
    return (f" Of the {counts['rows']} dense test rows of these videos, {counts['onset_after_offset']} have onset "
            f"after offset (they mark nothing), {counts['zero_length']} have zero length (inclusive ends: one "
            f"second) and {counts['past_end']} end past their video (cut at its end), as the official evaluation "
            "reads them.")


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
