"""Assemble the report (markdown + json + figures) from the evaluation and training files."""
import json
from pathlib import Path

import numpy as np

from vplan_core import atomic
from vplan_core.method.ablation import BASELINE_ROW, ROW_TITLES, VPLAN_ROW
from vplan_core.data.llp import load_split
from vplan_core.logs import job_log
from vplan_core.plan import group_seeds
from vplan_core.evaluation.label_quality import study_key
from vplan_core.evaluation.report import (ablation_summary, ablation_table, manifest_table, per_class_visual_f1, plot_per_class,
                               plot_timelines, pld_study_table, quality_summary, quality_tables, render_markdown,
                               table_v, timeline_videos)
from vplan_core.training.outputs import load_predictions, read_histories


def read_json(path):
    return json.loads(Path(path).read_text())


with job_log(snakemake.log[0]):
    inp, p = snakemake.input, snakemake.params
    evals = {row: [] for row in p.rows}
    histories, model_dirs = {row: [] for row in p.rows}, {row: [] for row in p.rows}
    for job in p.jobs:
        row, seeds = job["row"], group_seeds(job["seeds"])
        evals[row].append(read_json(job["evaluation"]))
        histories[row] += read_histories(job["model_dir"], seeds)
        model_dirs[row].append((job["model_dir"], seeds))
    ablation = ablation_summary(evals)
    parser_evals = {}
    for job in p.parser_jobs:
        parser_evals.setdefault(job["model"], {}).setdefault(job["row"], []).append(read_json(job["evaluation"]))
    parsers = {model: ablation_summary(rows) for model, rows in parser_evals.items()}
    quality = quality_summary([read_json(path) for path in inp.quality]) if inp.quality else None
    audio_quality = quality_summary([read_json(path) for path in inp.audio_quality]) if inp.audio_quality else None
    if audio_quality is not None:
        audio_tables = "\n\n".join(quality_tables(audio_quality, "audio"))
    else:
        audio_tables = "Not computed: audio PLG is off (plg.audio.enabled) or row 6 did not run."
    test = load_split(p.annotations, "test")
    compared = [row for row in (BASELINE_ROW, VPLAN_ROW) if row in p.rows]
    f1 = {row: np.stack([per_class_visual_f1(load_predictions(d, seed), test)
                         for d, seeds in model_dirs[row] for seed in seeds])
          for row in compared}
    plot_per_class(f1, snakemake.output.per_class)
    shown = compared[-1]  # VPLAN when it ran, else HAN
    first_dir, first_seeds = model_dirs[shown][0]
    plot_timelines(load_predictions(first_dir, first_seeds[0]), test, timeline_videos(test, p.timeline_clips),
                   snakemake.output.timelines, f"{ROW_TITLES[shown]}, seed {first_seeds[0]}")
    if quality is not None:
        table1, table2 = quality_tables(quality)
        study = pld_study_table(quality, study_key(p.pld_k, p.pld_alpha))
    else:
        table1 = table2 = study = "Not computed: no PLD labels in this run (see the skipped rows above)."
    skipped = "".join(f"\n\nSkipped: {ROW_TITLES[row]}: {why}." for row, why in p.skipped_rows.items())
    training = {row: {"seeds": [h["seed"] for h in hs], "best_epoch": [h["best_epoch"] for h in hs],
                      "best_val_type_at_av": [h["best_val_type_at_av"] for h in hs],
                      "seconds": sorted({round(h["seconds"], 1) for h in hs})}
                for row, hs in histories.items()}
    n_seeds = len(next(iter(training.values()))["seeds"])
    summary = "; ".join(f"{row}: best epochs {t['best_epoch']}, {'+'.join(f'{s:.0f}' for s in t['seconds'])} s"
                        for row, t in training.items())
    Path(snakemake.output.markdown).write_text(render_markdown(
        inp.template, dataset=p.dataset, ablation_table=ablation_table(ablation), training=summary,
        table1=table1, table2=table2, audio_quality=audio_tables, table_v=table_v(ablation, parsers) if parsers else
        "Not trained: train.models lists HAN only (add mgn, mm_pyramid to train them on the same labels).", pld_study=study, manifest=manifest_table(read_json(inp.manifest)),
        data_note=f"Test videos evaluated: {next(iter(ablation.values()))['videos']}. Every cell is the mean ± "
                  f"std (sample, ddof 1) over {n_seeds} seed(s): {training[BASELINE_ROW]['seeds']}.{skipped}"))
    atomic.write_json(snakemake.output.json, {
        "dataset": p.dataset, "seeds": training[BASELINE_ROW]["seeds"], "ablation": ablation,
        "skipped_rows": dict(p.skipped_rows), "parsers": parsers, "label_quality": quality, "audio_label_quality": audio_quality, "manifest": read_json(inp.manifest),
        "per_class_visual_f1": {row: [[None if np.isnan(v) else float(v) for v in seed_f1] for seed_f1 in f]
                                for row, f in f1.items()},
        "training": training})
