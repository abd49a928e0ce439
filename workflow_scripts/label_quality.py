"""Pseudo-label quality on val, per seed, of one modality's labels against its dense truth: the
video label vs the labels a stage-1 row trained on (Table I: PLG's, or VALOR's released ones,
named by their kind), those vs PLD (Table II), and PLD's K and α studied as in the paper
(Table II's grid) when params.study names them. Val videos without labels (a pseudo-label
feature or the release lacks them, or PLD could not score them for want of a parser input) are
left out, and listed in the output."""
from vplan_core import atomic
from vplan_core.data.dataset import labelled_ids, load_labels, subset_split
from vplan_core.data.annotations import load_split
from vplan_core.data.description import describe
from vplan_core.evaluation.label_quality import label_quality, pld_parameter_study
from vplan_core.logs import job_log
from vplan_core.training.outputs import SeedLabels, load_forward_loss

with job_log(snakemake.log[0]):
    p = snakemake.params
    split = load_split(p.annotations, "val", describe(p.description))
    labelled = labelled_ids(snakemake.input.source) & SeedLabels.videos(snakemake.input.pld, "val", p.modality, p.seeds)
    left_out = [vid for vid in split.video_ids if vid not in labelled]
    split = subset_split(split, [i for i, vid in enumerate(split.video_ids) if vid in labelled])
    source = load_labels(snakemake.input.source, split.video_ids)
    pld = SeedLabels.load(snakemake.input.pld, split, p.modality, p.seeds)
    per_seed = [label_quality(split, {p.source: source, "pld": pld[s]}, p.modality) for s in range(len(p.seeds))]
    if p.study:
        loss = load_forward_loss(snakemake.input.pld, f"val_{p.modality}", p.seeds, split.video_ids)
        for s, quality in enumerate(per_seed):
            quality["pld_study"] = pld_parameter_study(split, source, loss[s], p.study["k"], p.study["alpha"], p.modality)
    atomic.write_json(snakemake.output[0], {"seeds": p.seeds, "per_seed": per_seed, "left_out": left_out})
    print(f"{len(split.video_ids)} val videos scored; {len(left_out)} without labels left out: {left_out}")
    print(per_seed)
