"""PLG's text side: a pseudo-label feature's text embeddings of its prompt filled with each
readable class name (and whatever else its labelling rule reads, e.g. CLAP's logit scale)."""
import numpy as np

from vplan_core import atomic
from vplan_core.data.description import describe
from vplan_core.feature_registry import feature
from vplan_core.logs import job_log
from vplan_core.method.plg import prompt_texts

with job_log(snakemake.log[0]):
    texts = prompt_texts(snakemake.params.prompt, describe(snakemake.params.description).classes)
    name = snakemake.wildcards.feature
    arrays = feature(name).labels.encode_texts(name, snakemake.params.model, texts)
    atomic.savez(snakemake.output[0], **arrays, texts=np.asarray(texts))
    print("\n".join(texts))
