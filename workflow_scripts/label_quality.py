"""Pseudo-label quality on val, per seed, of one modality's labels against its dense truth: the
video label vs PLG (Table I), PLG vs PLD (Table II), and PLD's K and α studied as in the paper
(Table II's grid) when params.study names them."""
from vplan_core import atomic
from vplan_core.data.dataset import load_labels
from vplan_core.data.llp import load_split
from vplan_core.evaluation.label_quality import label_quality, pld_parameter_study
from vplan_core.logs import job_log
from vplan_core.method.ablation import PLD
from vplan_core.training.outputs import load_forward_loss, load_seed_labels

with job_log(snakemake.log[0]):
    p = snakemake.params
    split = load_split(p.annotations, "val")
    plg = load_labels(snakemake.input.plg, split.video_ids)
    pld = load_seed_labels(PLD, snakemake.input.pld, "val", p.modality, p.seeds, split.video_ids)
    per_seed = [label_quality(split, {"plg": plg, "pld": pld[s]}, p.modality) for s in range(len(p.seeds))]
    if p.study:
        loss = load_forward_loss(snakemake.input.pld, f"val_{p.modality}", p.seeds, split.video_ids)
        for s, quality in enumerate(per_seed):
            quality["pld_study"] = pld_parameter_study(split, plg, loss[s], p.study["k"], p.study["alpha"], p.modality)
    atomic.write_json(snakemake.output[0], {"seeds": p.seeds, "per_seed": per_seed})
    print(per_seed)
