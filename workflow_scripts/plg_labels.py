"""PLG (Eq. 3-4): segment-level visual pseudo labels of one split from CLIP embeddings."""
import numpy as np

from vplan_core.data.dataset import save_labels
from vplan_core.feature_store import available_ids, load_features
from vplan_core.data.llp import load_split
from vplan_core.logs import job_log
from vplan_core.method.plg import pseudo_labels, segment_scores

with job_log(snakemake.log[0]):
    split = load_split(snakemake.params.annotations, snakemake.wildcards.split)
    present = available_ids(snakemake.input.images)
    keep = [i for i, vid in enumerate(split.video_ids) if vid in present]
    ids = [split.video_ids[i] for i in keep]
    images = load_features(snakemake.input.images, ids)
    with np.load(snakemake.input.text) as text:
        scores = segment_scores(images, text["embeddings"])
    labels = pseudo_labels(scores, split.weak_labels[keep], snakemake.params.tau)
    save_labels(snakemake.output[0], ids, labels)
    print(f"{len(ids)} of {len(split.video_ids)} videos labelled; "
          f"{int(labels.max(axis=1).sum())} visual video labels of {int(split.weak_labels[keep].sum())} video labels")
