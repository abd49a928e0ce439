"""Score one row's test predictions exactly as the reference AVVP evaluation."""
import numpy as np

from vplan_core import atomic
from vplan_core.llp import load_split
from vplan_core.logs import job_log
from vplan_core.metrics import evaluate_predictions

with job_log(snakemake.log[0]):
    split = load_split(snakemake.params.annotations, "test")
    with np.load(snakemake.input.pred) as pred:
        scores = evaluate_predictions(dict(pred), split, allow_missing=True)
        evaluated = len(pred["video_ids"])
    scores["videos"] = {"evaluated": evaluated, "in_split": len(split.video_ids)}
    atomic.write_json(snakemake.output[0], scores)
    print(scores)
