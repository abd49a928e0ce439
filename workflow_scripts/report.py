"""Assemble the report (markdown + json + figures) from the evaluation files."""
import json
from pathlib import Path

import numpy as np

from vplan_core import atomic
from vplan_core.ablation import ROW_TITLES
from vplan_core.llp import load_split
from vplan_core.logs import job_log
from vplan_core.report import (ablation_table, per_class_visual_f1, plot_per_class, plot_timelines,
                               quality_tables, render_markdown, timeline_videos)


def read_json(path):
    return json.loads(Path(path).read_text())


with job_log(snakemake.log[0]):
    inp, p = snakemake.input, snakemake.params
    evals = {Path(path).stem: read_json(path) for path in inp.evals}
    histories = {row: read_json(path) for row, path in zip(evals, inp.histories)}
    quality, manifest = read_json(inp.quality), read_json(inp.manifest)
    test = load_split(p.annotations, "test")
    preds = {Path(path).parent.name: dict(np.load(path)) for path in inp.preds}
    f1 = {row: per_class_visual_f1(pred, test) for row, pred in preds.items()}
    plot_per_class(f1, snakemake.output.per_class)
    plot_timelines(preds["row5_vplan"], test, timeline_videos(test, p.timeline_clips), snakemake.output.timelines,
                   ROW_TITLES["row5_vplan"])
    table1, table2 = quality_tables(quality)
    training = "; ".join(f"{row}: best epoch {h['best_epoch']}, {h['seconds']:.0f} s" for row, h in histories.items())
    Path(snakemake.output.markdown).write_text(render_markdown(
        inp.template, dataset=p.dataset, ablation_table=ablation_table(evals), training=training,
        table1=table1, table2=table2, manifest="```\n" + json.dumps(manifest, indent=2) + "\n```",
        data_note=f"Test videos evaluated: {next(iter(evals.values()))['videos']}."))
    atomic.write_json(snakemake.output.json, {
        "dataset": p.dataset, "ablation": evals, "label_quality": quality, "manifest": manifest,
        "per_class_visual_f1": {row: [None if np.isnan(v) else float(v) for v in f] for row, f in f1.items()},
        "training": {row: {k: h[k] for k in ("best_epoch", "best_val_type_at_av", "seconds")} for row, h in histories.items()}})
