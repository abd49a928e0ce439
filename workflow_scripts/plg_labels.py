"""PLG (Eq. 3-4): one split's segment pseudo labels from a pseudo-label feature's segment
embeddings and its text embeddings, masked by the video label."""
import numpy as np

from vplan_core.data.dataset import save_labels
from vplan_core.data.annotations import load_split
from vplan_core.data.description import describe
from vplan_core.feature_store import available_ids, load_features
from vplan_core.logs import job_log
from vplan_core.method.plg import label_segments

with job_log(snakemake.log[0]):
    p = snakemake.params
    split = load_split(p.annotations, snakemake.wildcards.split, describe(p.description))
    present = available_ids(snakemake.input.segments)
    keep = [i for i, vid in enumerate(split.video_ids) if vid in present]
    ids = [split.video_ids[i] for i in keep]
    with np.load(snakemake.input.text) as text:
        labels = label_segments(load_features(snakemake.input.segments, ids), dict(text), split.weak_labels[keep],
                                **p.settings)
    save_labels(snakemake.output[0], ids, labels)
    print(f"{len(ids)} of {len(split.video_ids)} videos labelled ({p.settings}); "
          f"{int(labels.max(axis=1).sum())} video labels of {int(split.weak_labels[keep].sum())} kept")
