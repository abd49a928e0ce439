"""Every feature of a run described once, torchvision-style: one spec per feature that planning,
extraction, import, the rules and the demo iterate over.

A spec says what the feature is to the method (which parser input it can be, in which form,
and whether it is one by default; or what PLG labels a modality from: its role, with its text
tower, prompt and labelling settings), which
sampling keys its extraction reads, its weight files (config key, when it is needed, where it is
published), the builder of its extractor (imported lazily: planning a workflow and reading a
store stay free of torch and open_clip), its provenance texts, the layout of its released
maps, and whether the demo pretrains its backbone in the demo world. Adding a feature is one
new spec here and its extractor builder (module), and, for a pseudo-label feature, its text
embeddings beside the builder. A data set's released features (LLP's, LFAV's HAN features) are
laid out by its description (data/description.py), not here.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from vplan_core.method.plg import AUDIO_PROMPT, DEFAULT_TAU, VALOR_CLAP_THRESHOLDS, VALOR_CLIP_THRESHOLDS

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
CLAP_PUBLISHED_AT = ("LAION-CLAP's releases (https://github.com/LAION-AI/CLAP: 630k-fusion-best.pt, "
                     "the one VALOR uses, and 630k-audioset-fusion-best.pt, 630k-best.pt, ...) or "
                     "the transformers folders laion/clap-htsat-fused and laion/clap-htsat-unfused")
CLIP_PUBLISHED_AT = ("the open_clip pretrained releases (https://github.com/mlfoundations/open_clip, "
                     "`open_clip.list_pretrained()`) or OpenAI's CLIP releases (https://github.com/openai/CLIP)")
VGGISH_EXAMPLE = "0.96 s, 96x64 log-mel (25 ms / 10 ms, 125-7500 Hz)"
# JSON schemas of settings that several features' config blocks share
WEIGHTS = {"$ref": "#/$defs/weights"}  # a weight file, or "random:<seed>"
NAME = {"type": "string", "minLength": 1}
VALOR_CLAP_MAPS = (64, 768)  # VALOR's released CLAP/features/<id>.npy: HTSAT maps, not segment embeddings
RANDOM_PREFIX = "random:"


@dataclass(frozen=True)
class WeightFile:
    """One file an extraction loads: features.<feature>.<key>. published: where the file is
    published (a text, or a function of the feature's settings); when: the settings key that
    must be true for the file to be needed (VGGish's PCA)."""

    key: str
    published: str | Callable[[dict], str]
    when: str | None = None
    folder: bool = False  # a folder is a valid form too (a transformers model folder)

    def published_at(self, settings: dict) -> str:
        return self.published(settings) if callable(self.published) else self.published


@dataclass(frozen=True)
class ReleasedMaps:
    """Feature maps of the whole clip that a release gives per video (VALOR's CLAP/features):
    dataset.<key>/<id>.npy, each exactly `shape`, imported as they are (else extracted, when
    the feature has an extractor); provenance: what the release's maps are, recorded in every
    store."""

    key: str
    shape: tuple[int, ...]
    provenance: dict


@dataclass(frozen=True)
class Labelling:
    """The role of a pseudo-label feature: PLG labels `modality` from its segment embeddings.

    text_encoder: "module:function" (text settings, texts, feature) -> arrays of the text embeddings
    file (embeddings, and what its rule reads, e.g. a logit scale); text_keys: the
    features.<name> keys that choose its text tower; plg: its settings' defaults in plg.<name>
    (prompt, rule, tau; `enabled: false` leaves it and the rows that need it out of a run);
    released: the dataset key of released segment embeddings imported instead of extracting,
    the features.<name> key naming the model they come from, and how a release's sampling is
    recorded (all None for a feature without a release); released_check: "module:function" refusing a
    released file of another kind by name (or None); thresholds: the per-class thresholds of
    the rule "thresholds" (VALOR's for its model of this modality, method.plg). text_encoder and
    released_folder_check are also given the feature's name, as the Feature's functions are."""

    modality: str
    text_encoder: str
    text_keys: tuple[str, ...]
    released: str | None = None
    released_model_key: str | None = None
    released_rule: str | None = None
    plg: dict = field(default_factory=dict)
    released_check: str | None = None
    released_folder_check: str | None = None
    thresholds: tuple[float, ...] | None = None

    def encode_texts(self, feature: str, settings: dict, texts: list[str]) -> dict:
        return _load(self.text_encoder)(settings, texts, feature)

    def check_released(self):
        return _load(self.released_check) if self.released_check else None

    def check_folder(self, feature: str, folder: str, settings: dict) -> list[str]:
        """Problems with a folder of released segment embeddings, before any job."""
        return _load(self.released_folder_check)(folder, settings, feature) if self.released_folder_check else []


def _load(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


# A parser input's form: one row a segment (or a frame of it), or a feature map of the whole
# clip, which only a parser built for maps reads (VALOR's audio_maps)
SEGMENTS, MAPS = "segments", "maps"


@dataclass(frozen=True)
class Feature:
    """One feature store. role: the parser input (dataset.Features field) it can be, chosen per
    parser in models.<name>.inputs (None: PLG's only); default_input: the input of its role for a
    parser that chooses none (the HAN features); sampling: the keys of the config's `sampling`
    section its extraction reads; extractor: "module:function" building its extractor from
    (settings, device, its name: one module can serve several features, two CLIPs, and name
    each one's own features.<name> keys); maps: the release of a map feature; config_files:
    settings keys naming further files the extraction reads (inputs of its jobs); provenance:
    texts its stores record."""

    name: str
    role: str | None
    sampling: tuple[str, ...] = ()
    weights: tuple[WeightFile, ...] = ()
    extractor: str | None = None
    default_input: bool = False
    maps: ReleasedMaps | None = None
    config_files: tuple[str, ...] = ()
    needs_audio: bool = False  # a video without an audio stream is a recorded skip
    demo_backbone: bool = False
    provenance: dict = field(default_factory=dict)
    labels: Labelling | None = None
    weights_check: str | None = None  # "module:function" (settings, its name) -> problems of its weight files
    settings: dict | None = None  # features.<name>: key -> its JSON schema (None: the feature has no settings)
    required: tuple[str, ...] = ()  # the settings a config must give

    def settings_schema(self) -> dict:
        """Its features.<name> block of the config schema: its settings, batch_size for an
        extractor, and `source` for one that can also be imported from a release."""
        properties = dict(self.settings)
        if self.extractor:
            properties["batch_size"] = {"$ref": "#/$defs/posint"}
        if self.extractor and self.released:
            properties["source"] = {"enum": ["auto", "videos", "features"], "description": (
                f"where the {self.name} store comes from: auto = dataset.{self.released} when set, else the videos")}
        return {"type": "object", "additionalProperties": False, "required": list(self.required),
                "properties": properties}

    def named_keys(self) -> set[str]:
        """The features.<name> keys the spec names: weight files and their conditions, config
        files, the text tower's keys and the released model's."""
        keys = {w.key for w in self.weights} | {w.when for w in self.weights if w.when} | set(self.config_files)
        if self.labels:
            keys |= set(self.labels.text_keys) | ({self.labels.released_model_key} - {None})
        return keys | set(self.required)

    @property
    def form(self) -> str:
        return MAPS if self.maps else SEGMENTS

    @property
    def released(self) -> str | None:
        """The dataset key of its released files, imported instead of extracting (or None)."""
        return self.labels.released if self.labels else self.maps.key if self.maps else None

    def check_weights(self, settings: dict) -> list[str]:
        """Problems with the feature's weight files (which exist), found before any job."""
        return _load(self.weights_check)(settings, self.name) if self.weights_check else []

    def weight_exists(self, key: str, path: str) -> bool:
        from pathlib import Path

        weight = next(w for w in self.weights if f"features.{self.name}.{w.key}" == key)
        return Path(path).exists() if weight.folder else Path(path).is_file()

    def build_extractor(self, settings: dict, device: str):
        return _load(self.extractor)(settings, device, self.name)

    def weight_files(self, settings: dict) -> list[tuple[str, str, str]]:
        """(config key, value, where the published file is) of each weight file the extraction
        with `settings` (config features.<name>) loads."""
        return [(f"features.{self.name}.{w.key}", settings.get(w.key, ""), w.published_at(settings))
                for w in self.weights if w.when is None or settings.get(w.when)]

    def input_files(self, settings: dict) -> list[str]:
        """The local files an extraction job reads (weights that are files, config files), so
        that a changed file reruns it."""
        weights = [str(value) for _, value, _ in self.weight_files(settings)
                   if not str(value).startswith(RANDOM_PREFIX)]
        return weights + [str(settings[key]) for key in self.config_files if settings.get(key)]


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("vggish", "audio", default_input=True, sampling=("audio_rate", "seconds"),
            weights=(WeightFile("weights", VGGISH_WEIGHTS_URL), WeightFile("pca_params", VGGISH_PCA_URL, when="pca")),
            extractor="vplan_core.features.vggish:vggish_extractor", needs_audio=True,
            demo_backbone=True, provenance={"example": VGGISH_EXAMPLE},
            settings={"weights": WEIGHTS, "pca": {"type": "boolean"}, "pca_params": {"type": "string"}},
            required=("weights", "pca")),
    Feature("cnn2d", "visual_2d", default_input=True, sampling=("fps", "seconds"),
            weights=(WeightFile("weights", lambda s: CNN_PUBLISHED[s["backbone"]]),),
            extractor="vplan_core.features.cnn:cnn2d_extractor",
            demo_backbone=True,
            settings={"backbone": {"enum": ["resnet152", "resnet50", "resnet18"]}, "weights": WEIGHTS, "size": {
                "type": "integer", "minimum": 16,
                "description": "input side in px; the demo's 2D CNN is also pretrained at it"}},
            required=("backbone", "weights", "size")),
    Feature("r2plus1d", "visual_3d", default_input=True, sampling=("fps", "seconds"),
            weights=(WeightFile("weights", CNN_PUBLISHED["r2plus1d_18"]),),
            extractor="vplan_core.features.cnn:r2plus1d_extractor",
            demo_backbone=True,
            settings={"weights": WEIGHTS, "size": {
                "type": "integer", "minimum": 16,
                "description": "input side in px; the demo's R(2+1)D is also pretrained at it"}},
            required=("weights", "size")),
    Feature("clip", "visual_2d", sampling=("seconds",),
            weights=(WeightFile("checkpoint", CLIP_PUBLISHED_AT),),
            extractor="vplan_core.features.clip:clip_extractor", config_files=("config_file",),
            weights_check="vplan_core.features.clip:check_weights",
            labels=Labelling("visual", "vplan_core.features.clip:text_embeddings",
                             text_keys=("model_name", "checkpoint", "config_file"), released="clip_features",
                             released_model_key="model_name", released_rule="frame_rule",
                             plg={"prompt": "P1", "tau": DEFAULT_TAU},
                             released_folder_check="vplan_core.features.clip:check_released_folder",
                             thresholds=VALOR_CLIP_THRESHOLDS),
            settings={"model_name": NAME, "checkpoint": NAME, "config_file": {"type": "string"},
                      "size": {"$ref": "#/$defs/posint"},
                      "frames": {"enum": ["segment_middle", "valor"], "description": (
                          "which frame a segment's embedding is of: segment_middle (default) the frame on screen at "
                          "the middle of each second; valor VALOR's, 10 of the clip's 8-fps frames evenly spaced "
                          "(utils/clip_preprocess.py)")},
                      "resize": {"enum": ["crop", "squash"], "description": (
                          "crop (default): shorter side to size, centre crop; squash: the whole frame to size x size "
                          "(VALOR's transforms.Resize((224, 224)))")}},
            required=("model_name", "checkpoint")),
    Feature("clap", "audio", sampling=("seconds",),
            weights=(WeightFile("checkpoint", CLAP_PUBLISHED_AT, folder=True),),
            extractor="vplan_core.features.clap:clap_extractor", config_files=("config", "tokenizer"),
            needs_audio=True, weights_check="vplan_core.features.clap:check_weights",
            labels=Labelling("audio", "vplan_core.features.clap:text_embeddings",
                             text_keys=("checkpoint", "fusion", "config", "tokenizer"), released="clap_features",
                             released_model_key="checkpoint", released_rule="window_rule",
                             plg={"prompt": AUDIO_PROMPT, "rule": "softmax", "tau": DEFAULT_TAU},
                             released_check="vplan_core.features.clap:valor_feature_maps",
                             thresholds=VALOR_CLAP_THRESHOLDS),
            settings={"checkpoint": {**NAME, "description": "CLAP for audio PLG (rows 6-7): a LAION-CLAP .pt as "
                                     "published, or a transformers ClapModel folder"},
                      "fusion": {"type": ["boolean", "null"], "description": "the checkpoint is a fusion model "
                                 "(630k-*fusion*); null: whatever the file is"},
                      "config": {"type": "string", "description": "a transformers config.json for a LAION file of "
                                 "another architecture"},
                      "tokenizer": {"type": "string", "description": "a folder of RoBERTa tokenizer files (needed "
                                    "for LAION .pt files)"}},
            required=("checkpoint",)),
    Feature("clap_maps", "audio", sampling=("seconds",),
            weights=(WeightFile("checkpoint", CLAP_PUBLISHED_AT, folder=True),),
            extractor="vplan_core.features.clap_maps:clap_maps_extractor", config_files=("config",),
            needs_audio=True, weights_check="vplan_core.features.clap_maps:check_weights",
            settings={"checkpoint": {**NAME, "description": "CLAP's HTSAT feature maps of the clip (VALOR's "
                                     "get_audio_feature_maps), VALOR++'s audio from the videos: a LAION-CLAP .pt as "
                                     "published (VALOR: 630k-fusion-best.pt), or a transformers ClapModel folder"},
                      "fusion": {"type": ["boolean", "null"], "description": "the checkpoint is a fusion model "
                                 "(630k-*fusion*, VALOR's); null: whatever the file is"},
                      "config": {"type": "string", "description": "a transformers config.json for a LAION file of "
                                 "another architecture"}},
            required=("checkpoint",),
            maps=ReleasedMaps("clap_feature_maps", VALOR_CLAP_MAPS, {
        "model": "LAION-CLAP HTSAT audio encoder (VALOR's release)",
        "layout": "64 tokens (2 frequency x 32 time) x 768 channels of the whole 10-s clip, before CLAP's projection",
        "released_at": "https://huggingface.co/datasets/NTUBarista/valor_features (CLAP.zip: CLAP/features/<id>.npy)"})),
)}


def check_specs(features: dict[str, Feature]) -> None:
    """Each spec's keys are among its settings (the config schema's features.<name> is made of
    them), and a pseudo-label feature with a release says how it is recorded. Run on import."""
    for spec in features.values():
        unknown = sorted(spec.named_keys() - set(spec.settings or {}))
        if unknown:
            raise ValueError(f"FEATURES[{spec.name!r}] names features.{spec.name}.{unknown}, which its settings do "
                             f"not define (settings: {sorted(spec.settings or {})})")
        labels = spec.labels
        if labels and labels.released and not (labels.released_model_key and labels.released_rule):
            raise ValueError(f"FEATURES[{spec.name!r}]: released embeddings (dataset.{labels.released}) need "
                             f"released_model_key and released_rule")


check_specs(FEATURES)
HAN_FEATURES = tuple(name for name, f in FEATURES.items() if f.default_input)
DEFAULT_INPUTS = {FEATURES[name].role: name for name in HAN_FEATURES}  # role -> feature, as HAN reads them
INPUT_ROLES = tuple(DEFAULT_INPUTS)
DEMO_BACKBONES = tuple(name for name, f in FEATURES.items() if f.demo_backbone)
PSEUDO_LABEL_FEATURES = tuple(name for name, f in FEATURES.items() if f.labels)


def feature(name: str) -> Feature:
    if name not in FEATURES:
        raise ValueError(f"unknown feature {name!r}; choose one of {tuple(FEATURES)}")
    return FEATURES[name]


def weight_files(name: str, settings: dict) -> list[tuple[str, str, str]]:
    """(config key, value, where the published file is) of each weight file of feature `name`."""
    return feature(name).weight_files(settings)
