"""Where every artifact of a run lives: one helper per artifact, used by the rules, the workflow
scripts' callers and the bench scripts alike, so no path is typed twice.

Arguments may be values or Snakemake wildcard patterns ("{row}", "{seeds}"): the helpers only
format strings. HAN's rows keep the places they had before other parsers existed
(models/<row>/...); another parser family's rows live beside them under its name
(models/<model>/<row>/...).
"""
from __future__ import annotations

from dataclasses import dataclass
from glob import glob

HAN = "han"  # the parser family whose artifacts have no family folder


def _family(model: str) -> str:
    return "" if model == HAN else f"{model}/"


@dataclass(frozen=True)
class RunPaths:
    """The folders of one data set's run (config dataset.name) under a working directory."""

    dataset: str

    @property
    def results(self) -> str:
        return f"results/{self.dataset}"

    @property
    def logs(self) -> str:
        return f"logs/{self.dataset}"

    @property
    def benchmarks(self) -> str:
        return f"benchmarks/{self.dataset}"

    # ---- the manifest: every input video accounted for
    def manifest_shard(self, shard: str) -> str:
        return f"{self.results}/manifest/shard_{shard}.tsv"

    def probed_videos_shard(self, shard: str) -> str:
        """Probed videos when the manifest itself comes from the official features (then only
        the extraction of pseudo-label features reads them)."""
        return f"{self.results}/manifest/videos/shard_{shard}.tsv"

    @property
    def manifest(self) -> str:
        return f"{self.results}/manifest.tsv"

    @property
    def manifest_summary(self) -> str:
        return f"{self.results}/manifest_summary.json"

    # ---- features
    def feature_store(self, feature: str, shard: str) -> str:
        return f"{self.results}/features/{feature}/shard_{shard}.zarr"

    def existing_stores(self, feature: str) -> list[str]:
        """The stores of `feature` a finished run has (bench scripts read finished runs)."""
        return sorted(glob(self.feature_store(feature, "*")))

    # ---- pseudo labels
    @property
    def text_embeddings(self) -> str:
        """CLIP's class prompts (visual PLG)."""
        return f"{self.results}/plg/text_embeddings.npz"

    @property
    def audio_text_embeddings(self) -> str:
        """CLAP's class prompts (audio PLG)."""
        return f"{self.results}/plg/clap_text_embeddings.npz"

    def plg_labels(self, split: str, audio: bool = False) -> str:
        """PLG's segment labels of a split: visual (CLIP), or audio (CLAP)."""
        return f"{self.results}/labels/plg{'_audio' if audio else ''}/{split}.npz"

    def pld_dir(self, seeds: str, model: str = HAN, audio: bool = False) -> str:
        """One PLD job: seed_<s>/{train,val}.npz (and val's forward losses), refined with the
        row-4 models of `model`; with audio, both modalities' labels refined with row 6's
        models (seed_<s>/{train,val}_audio.npz beside the visual ones)."""
        return f"{self.results}/labels/pld{'_av' if audio else ''}/{_family(model)}seeds_{seeds}"

    # ---- training and evaluation
    def model_dir(self, row: str, seeds: str, model: str = HAN) -> str:
        """One training job: seed_<s>/{model.pt, history.json, test_pred.npz}."""
        return f"{self.results}/models/{_family(model)}{row}/seeds_{seeds}"

    def resume_file(self, row: str, seeds: str, model: str = HAN) -> str:
        """A training job's state after its last finished epoch (beside its folder, not an output)."""
        return f"{self.model_dir(row, seeds, model)}.resume.pt"

    def evaluation(self, row: str, seeds: str, model: str = HAN) -> str:
        return f"{self.results}/eval/{_family(model)}{row}/seeds_{seeds}.json"

    def label_quality(self, seeds: str, audio: bool = False) -> str:
        """Pseudo-label quality on val (Tables I/II) of the visual labels, or of the audio ones."""
        return f"{self.results}/eval/label_quality{'_audio' if audio else ''}/seeds_{seeds}.json"

    # ---- the report
    def report(self, name: str) -> str:
        return f"{self.results}/report/{name}"

    # ---- per-job records
    def log(self, name: str) -> str:
        return f"{self.logs}/{name}.log"

    def benchmark(self, name: str) -> str:
        return f"{self.benchmarks}/{name}.tsv"


def demo_resources(dataset: str) -> str:
    """The folder the demo rules write its data set and in-world models into."""
    return f"resources/{dataset}"


def seed_dir(seed: int) -> str:
    """A seed's folder inside its job's output folder."""
    return f"seed_{seed}"
