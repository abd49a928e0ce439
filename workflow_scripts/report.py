"""Assemble the report (markdown + json + figures) from the evaluation, training and label-quality
files: the first family's rows as the ablation table, every family's Table V rows beside it, each
row's difference from its control, and a first paragraph on what the numbers can show."""
import json
from pathlib import Path

import numpy as np

from vplan_core import atomic
from vplan_core.data.annotations import load_split
from vplan_core.data.description import describe
from vplan_core.evaluation.label_quality import study_key
from vplan_core.evaluation.protocols import PROTOCOLS, scored_split
from vplan_core.evaluation.report import (ablation_difference_table, ablation_differences, ablation_summary,
                                          ablation_table, dense_rows_note, label_notes, label_quality_section, limits_paragraph,
                                          manifest_table, parser_label, per_class_visual_f1, plot_per_class,
                                          plot_seed_points, plot_timelines, quality_differences, quality_summary,
                                          render_markdown, row_name, shown_notes, table_v, table_v_difference_table,
                                          table_v_differences, timeline_videos, with_video_label_segments)
from vplan_core.logs import job_log
from vplan_core.method.ablation import BASELINE_ROW, ROWS, VPLAN_ROW
from vplan_core.plan import group_seeds
from vplan_core.training.outputs import load_predictions, read_histories


def read_json(path):
    return json.loads(Path(path).read_text())


with job_log(snakemake.log[0]):
    p = snakemake.params
    first = p.models[0]
    evals, histories, model_dirs = {}, {}, {}
    for job in p.jobs:
        model, row, seeds = job["model"], job["row"], group_seeds(job["seeds"])
        evals.setdefault(model, {}).setdefault(row, []).append(read_json(job["evaluation"]))
        if model == first:
            histories.setdefault(row, []).extend(read_histories(job["model_dir"], seeds))
            model_dirs.setdefault(row, []).append((job["model_dir"], seeds))
    summaries = {model: ablation_summary(rows) for model, rows in evals.items()}
    ablation = summaries[first]
    parsers = {model: ({row: s for row, s in rows.items() if ROWS[row].table_v} if model == first else rows)
               for model, rows in summaries.items()}
    files = {}
    for entry in p.quality:
        files.setdefault(entry["modality"], {}).setdefault(entry["stage1"], []).append(read_json(entry["path"]))
    quality = {modality: {stage1: quality_summary(group) for stage1, group in by_stage1.items()}
               for modality, by_stage1 in files.items()}
    quality = with_video_label_segments(quality, load_split(p.annotations, "val", describe(p.description)))
    notes = label_notes(quality)
    differences = ablation_differences(ablation)
    parser_differences = table_v_differences(parsers) if len(parsers) > 1 else {}
    label_differences = {modality: quality_differences(by_stage1, modality) for modality, by_stage1 in quality.items()}
    description = describe(p.description)
    protocol = PROTOCOLS[description.metric]
    test = load_split(p.annotations, "test", description)
    compared = [row for row in (BASELINE_ROW, VPLAN_ROW) if row in ablation]
    if not description.fixed_length:  # the GT of the videos' lengths, which the predictions carry
        some_dir, some_seeds = model_dirs[compared[0]][0]
        test = scored_split(load_predictions(some_dir, some_seeds[0]), test, description)[1]
    f1 = {row: np.stack([per_class_visual_f1(load_predictions(d, seed), test, protocol)
                         for d, seeds in model_dirs[row] for seed in seeds])
          for row in compared}
    classes = description.classes
    plot_per_class(f1, snakemake.output.per_class, classes)
    plot_seed_points(ablation, differences, snakemake.output.seed_points)
    shown = compared[-1]  # VPLAN when it ran, else the baseline
    first_dir, first_seeds = model_dirs[shown][0]
    plot_timelines(load_predictions(first_dir, first_seeds[0]), test, timeline_videos(test, p.timeline_clips),
                   snakemake.output.timelines, f"{ROWS[shown].title}, seed {first_seeds[0]}", classes, protocol)
    skipped = "".join(f"\n\nSkipped: {ROWS[row].title}: {why}." for row, why in p.skipped_rows.items())
    dense_rows = dense_rows_note(next(iter(evals[first].values()))[0]["per_seed"][0].get("dense_rows"))
    training = {row: {"seeds": [h["seed"] for h in hs], "best_epoch": [h["best_epoch"] for h in hs],
                      "best_val_type_at_av": [h["best_val_type_at_av"] for h in hs],
                      "seconds": sorted({round(h["seconds"], 1) for h in hs})}
                for row, hs in histories.items()}
    seeds = next(iter(training.values()))["seeds"]
    summary = "; ".join(f"{row}: best epochs {t['best_epoch']}, {'+'.join(f'{s:.0f}' for s in t['seconds'])} s"
                        for row, t in training.items())
    others = ("Not trained: train.models names one family (add others, e.g. mgn, mm_pyramid, to train them on "
              "the same labels).")
    videos = next(iter(ablation.values()))["videos"]
    comparisons = ([(row_name(row), row_name(d["control"]), d) for row, d in differences.items()]
                   + [(f"{parser_label(model)} {ROWS[row].short_title}", ROWS[d["control"]].short_title, d)
                      for model, rows in parser_differences.items() for row, d in rows.items()]
                   + [(f"{modality} labels: {name}", control, d)
                      for modality, entries in label_differences.items() for name, control, d in entries])
    limits = limits_paragraph(seeds, videos, comparisons, p.demo, list(shown_notes(notes, ablation)))
    Path(snakemake.output.markdown).write_text(render_markdown(
        p.template, dataset=p.dataset, limits=limits, ablation_table=ablation_table(ablation, notes), training=summary,
        ablation_differences=ablation_difference_table(differences, notes),
        table_v=table_v(parsers, cite_paper=description.name == "llp") if len(parsers) > 1 else others,
        table_v_differences=table_v_difference_table(parser_differences) if parser_differences else "",
        label_quality=label_quality_section(quality, study_key(p.pld_k, p.pld_alpha)),
        manifest=manifest_table(read_json(snakemake.input.manifest)),
        data_note=f"Test videos evaluated: {videos}. Every cell is the mean ± "
                  f"std (sample, ddof 1) over {len(seeds)} seed(s): {seeds}.{dense_rows}{skipped}"))
    atomic.write_json(snakemake.output.json, {
        "dataset": p.dataset, "seeds": seeds, "limits": limits, "ablation": ablation,
        "differences": {"ablation": differences, "parsers": parser_differences,
                        "label_quality": {modality: [{"labels": name, "control": control, **d}
                                                     for name, control, d in entries]
                                          for modality, entries in label_differences.items()}},
        "skipped_rows": dict(p.skipped_rows),
        "parsers": {model: rows for model, rows in summaries.items() if model != first}, "label_quality": quality,
        "manifest": read_json(snakemake.input.manifest),
        "per_class_visual_f1": {row: [[None if np.isnan(v) else float(v) for v in seed_f1] for seed_f1 in f]
                                for row, f in f1.items()},
        "training": training})
