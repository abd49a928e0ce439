"""Score each seed's test predictions of one row exactly as the data set's reference evaluation."""
from vplan_core import atomic
from vplan_core.data.annotations import load_split
from vplan_core.data.description import describe
from vplan_core.logs import job_log
from vplan_core.evaluation.protocols import score_predictions
from vplan_core.training.outputs import load_predictions

with job_log(snakemake.log[0]):
    p = snakemake.params
    description = describe(p.description)
    split = load_split(p.annotations, "test", description)
    per_seed = []
    for seed in p.seeds:
        pred = load_predictions(snakemake.input.model, seed)
        scores = score_predictions(pred, split, description, allow_missing=True)
        scores["videos"] = {"evaluated": len(pred["video_ids"]), "in_split": len(split.video_ids)}
        per_seed.append(scores)
        print(f"seed {seed}: {scores}")
    atomic.write_json(snakemake.output[0], {"seeds": p.seeds, "per_seed": per_seed})
