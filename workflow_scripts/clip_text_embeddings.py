"""PLG text side: CLIP text embeddings of the prompt filled with each readable class name."""
import numpy as np

from vplan_core import atomic
from vplan_core.features.clip import encode_texts, load_clip
from vplan_core.data.llp import CLASSES
from vplan_core.logs import job_log
from vplan_core.method.plg import prompt_texts

with job_log(snakemake.log[0]):
    clip = snakemake.params.clip
    model, _, tokenizer = load_clip(clip["model_name"], clip["checkpoint"], clip.get("config_file"))
    texts = prompt_texts(snakemake.params.prompt, CLASSES)
    atomic.savez(snakemake.output[0], embeddings=encode_texts(model, tokenizer, texts), texts=np.asarray(texts))
    print("\n".join(texts))
