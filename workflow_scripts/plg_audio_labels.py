"""Audio PLG: segment-level audio pseudo labels of one split from CLAP window embeddings, by the
softmax-tau rule of Eq. 3-4 or VALOR's per-class logit thresholds; masked by the video label."""
import numpy as np

from vplan_core.data.dataset import save_labels
from vplan_core.data.llp import load_split
from vplan_core.feature_store import available_ids, load_features
from vplan_core.logs import job_log
from vplan_core.method.plg import VALOR_CLAP_THRESHOLDS, clap_logits, pseudo_labels, segment_scores, threshold_labels

with job_log(snakemake.log[0]):
    p = snakemake.params
    split = load_split(p.annotations, snakemake.wildcards.split)
    present = available_ids(snakemake.input.audio)
    keep = [i for i, vid in enumerate(split.video_ids) if vid in present]
    ids = [split.video_ids[i] for i in keep]
    audio = load_features(snakemake.input.audio, ids)
    with np.load(snakemake.input.text) as text:
        embeddings, scale = text["embeddings"], float(text["logit_scale"])
    if p.rule == "thresholds":
        labels = threshold_labels(clap_logits(audio, embeddings, scale), VALOR_CLAP_THRESHOLDS, split.weak_labels[keep])
    else:
        labels = pseudo_labels(segment_scores(audio, embeddings), split.weak_labels[keep], p.tau)
    save_labels(snakemake.output[0], ids, labels)
    print(f"{len(ids)} of {len(split.video_ids)} videos labelled ({p.rule}); "
          f"{int(labels.max(axis=1).sum())} audio video labels of {int(split.weak_labels[keep].sum())} video labels")
