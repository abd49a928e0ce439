"""Where every artifact of a run lives: one helper per artifact, used by the rules, the workflow
scripts' callers and the bench scripts alike, so no path is typed twice.

Arguments may be values or Snakemake wildcard patterns ("{row}", "{seeds}"): the helpers only
format strings. Every parser family's jobs live under its name (models/<family>/<row>/...), and
PLD's labels under the family and the stage-1 row whose models refined them.
"""
from __future__ import annotations

from dataclasses import dataclass
from glob import glob


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

    def extraction_settings(self, feature: str) -> str:
        """The settings and weight files' sha256 every shard of an extracted feature was made with."""
        return f"{self.results}/features/{feature}/settings.json"

    def existing_stores(self, feature: str) -> list[str]:
        """The stores of `feature` a finished run has (bench scripts read finished runs)."""
        return sorted(glob(self.feature_store(feature, "*")))

    # ---- pseudo labels
    def text_embeddings(self, feature: str) -> str:
        """The class prompts' embeddings by a pseudo-label feature's text tower (PLG)."""
        return f"{self.results}/plg/{feature}/text_embeddings.npz"

    def plg_labels(self, feature: str, split: str) -> str:
        """PLG's segment labels of a split from a pseudo-label feature."""
        return f"{self.results}/labels/plg/{feature}/{split}.npz"

    def released_labels(self, modality: str, split: str) -> str:
        """VALOR's released segment labels of a modality for a split's videos (a labels npz)."""
        return f"{self.results}/labels/released/{modality}/{split}.npz"

    def released_labels_summary(self, modality: str, split: str) -> str:
        """What importing them found: the split's videos without a released file, by id."""
        return f"{self.results}/labels/released/{modality}/{split}.json"

    def pld_dir(self, family: str, stage1: str, seeds: str) -> str:
        """One PLD job: seed_<s>/<split>_<modality>.npz (and val's forward losses), the labels
        `stage1` trained on, refined with that row's models of `family`."""
        return f"{self.results}/labels/pld/{family}/{stage1}/seeds_{seeds}"

    # ---- training and evaluation
    def model_dir(self, row: str, seeds: str, family: str) -> str:
        """One training job: seed_<s>/{model.pt, history.json, test_pred.npz}."""
        return f"{self.results}/models/{family}/{row}/seeds_{seeds}"

    def resume_file(self, row: str, seeds: str, family: str) -> str:
        """A training job's state after its last finished epoch (beside its folder, not an output)."""
        return f"{self.model_dir(row, seeds, family)}.resume.pt"

    def evaluation(self, row: str, seeds: str, family: str) -> str:
        return f"{self.results}/eval/{family}/{row}/seeds_{seeds}.json"

    def label_quality(self, family: str, stage1: str, modality: str, seeds: str) -> str:
        """Pseudo-label quality on val (Tables I/II) of one modality's stage-1 labels (PLG's or
        released) and their PLD."""
        return f"{self.results}/eval/label_quality/{family}/{stage1}/{modality}/seeds_{seeds}.json"

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
