"""The four features of a run, defined once: what each is to HAN, where its released files are,
which config keys name its weight files and where those are published.

Import-free (no torch), so that planning a workflow and reading a store stay light.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TORCHVISION = "https://download.pytorch.org/models/"
# torchvision's weight files (ImageNet-1k V1 for the ResNets, Kinetics-400 for R(2+1)D-18)
CNN_PUBLISHED = {
    "resnet152": TORCHVISION + "resnet152-394f9c45.pth",
    "resnet50": TORCHVISION + "resnet50-0676ba61.pth",
    "resnet18": TORCHVISION + "resnet18-f37072fd.pth",
    "r2plus1d_18": TORCHVISION + "r2plus1d_18-91a641e6.pth",
}
TORCHVGGISH = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
VGGISH_WEIGHTS_URL = TORCHVGGISH + "vggish-10086976.pth"
VGGISH_PCA_URL = TORCHVGGISH + "vggish_pca_params-970ea276.pth"
CLIP_PUBLISHED_AT = ("the open_clip pretrained releases (https://github.com/mlfoundations/open_clip, "
                     "`open_clip.list_pretrained()`) or OpenAI's CLIP releases (https://github.com/openai/CLIP)")


@dataclass(frozen=True)
class Feature:
    """One feature store. han_input: the dataset.Features field it feeds (None: CLIP, which
    feeds PLG); official: the folder, per-video shape and sampling of the AVVP-ECCV20 release."""

    name: str
    han_input: str | None
    official_folder: str | None = None
    official_shape: tuple[int, ...] | None = None
    official_sampling: dict = field(default_factory=dict)


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("vggish", "audio", "vggish", (10, 128), {
        "seconds": 10, "sample_rate": 16000, "example_hop_s": 1.0,
        "example": "0.96 s, 96x64 log-mel", "postprocess": "VGGish PCA + 8-bit quantisation"}),
    Feature("cnn2d", "visual_2d", "res152", (80, 2048), {
        "seconds": 10, "fps": 8, "num_frames": 80, "frame_size": 224,
        "weights": "ImageNet", "output": "final pool"}),
    Feature("r2plus1d", "visual_3d", "r2plus1d_18", (10, 512), {
        "seconds": 10, "fps": 8, "num_frames": 80, "clip_len": 8, "frame_size": 112,
        "weights": "Kinetics-400", "output": "final pool"}),
    Feature("clip", None),
)}
HAN_FEATURES = tuple(name for name, f in FEATURES.items() if f.han_input)
OFFICIAL_FEATURES = tuple(name for name, f in FEATURES.items() if f.official_folder)


def weight_files(feature: str, settings: dict) -> list[tuple[str, str, str]]:
    """(config key, value, where the published file is) of each weight file the extraction of
    `feature` with `settings` (config features.<feature>) loads."""
    key = f"features.{feature}"
    if feature == "vggish":
        files = [(f"{key}.weights", settings["weights"], VGGISH_WEIGHTS_URL)]
        if settings.get("pca"):
            files.append((f"{key}.pca_params", settings.get("pca_params", ""), VGGISH_PCA_URL))
        return files
    if feature == "cnn2d":
        return [(f"{key}.weights", settings["weights"], CNN_PUBLISHED[settings["backbone"]])]
    if feature == "r2plus1d":
        return [(f"{key}.weights", settings["weights"], CNN_PUBLISHED["r2plus1d_18"])]
    if feature == "clip":
        return [(f"{key}.checkpoint", settings["checkpoint"], CLIP_PUBLISHED_AT)]
    raise ValueError(f"unknown feature {feature!r}; choose one of {tuple(FEATURES)}")
