"""Audio PLG text side: CLAP text embeddings of the audio prompt filled with each readable class
name, and CLAP's logit scale (VALOR's threshold rule reads logits)."""
import numpy as np

from vplan_core import atomic
from vplan_core.data.llp import CLASSES
from vplan_core.features.clap import encode_texts, load_clap, logit_scale
from vplan_core.logs import job_log
from vplan_core.method.plg import prompt_texts

with job_log(snakemake.log[0]):
    clap = snakemake.params.clap
    model, tokenizer = load_clap(clap["checkpoint"], clap.get("fusion"), clap.get("config"), clap.get("tokenizer"))
    texts = prompt_texts(snakemake.params.prompt, CLASSES)
    atomic.savez(snakemake.output[0], embeddings=encode_texts(model, tokenizer, texts), texts=np.asarray(texts),
                 logit_scale=np.float32(logit_scale(model)))
    print("\n".join(texts))
