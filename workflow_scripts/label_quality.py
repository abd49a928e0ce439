"""Pseudo-label quality on val: video label vs PLG (Table I), PLG vs PLD (Table II)."""
from vplan_core import atomic
from vplan_core.dataset import load_labels
from vplan_core.label_quality import segment_event_f, video_level_precision_recall
from vplan_core.llp import load_split
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    split = load_split(snakemake.params.annotations, "val")
    plg = load_labels(snakemake.input.plg, split.video_ids)
    pld = load_labels(snakemake.input.pld, split.video_ids)
    quality = {
        "videos": len(split.video_ids),
        "video_level": {
            "video_label": video_level_precision_recall(split.weak_labels, split.gt_visual),
            "plg": video_level_precision_recall(plg.max(axis=1), split.gt_visual),
            "pld": video_level_precision_recall(pld.max(axis=1), split.gt_visual),
        },
        "segment_event": {"plg": segment_event_f(plg, split.gt_visual), "pld": segment_event_f(pld, split.gt_visual)},
    }
    atomic.write_json(snakemake.output[0], quality)
    print(quality)
