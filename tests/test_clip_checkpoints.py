"""CLIP checkpoints in the forms users download them: each is loaded and compared with open_clip.

One random ViT-B-32 (every parameter perturbed, so that norms and biases are not their trivial
initial values and a mis-ordered q/k/v or an untransposed projection shows) is written once per
session in each published form: OpenAI's TorchScript archive (traced, OpenAI's fp16 weights,
QuickGELU, input_resolution / context_length / vocab_size buffers), open_clip's hub .bin and
.safetensors, a DDP training checkpoint, and transformers CLIPModel files. Embeddings through
vplan's loader must equal open_clip's own reader of the archive (load_openai_model) or, for the
state dicts, the open_clip model they were written from (vplan hands open_clip files to
open_clip's loader itself). The rejected forms are small files, checked through the function
check_inputs calls (before any job) and through the loader.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
import torchvision
from open_clip.model import convert_weights_to_lp
from PIL import Image
from safetensors.torch import save_file

from tests.media import write_video
from vplan_core.features.clip import check_checkpoint, encode_images, encode_texts, load_clip
from vplan_core.features.checkpoint_files import TruncatedSafetensors, safetensors_layout
from vplan_core.features.clip_checkpoints import CONFIG_KEY, CheckpointError, inspect_checkpoint
from vplan_core.features.extract import extract_shard
from vplan_core.feature_registry import FEATURES
from vplan_core.feature_store import read_store
from vplan_core.data.description import LLP
CLASSES = LLP.classes
from vplan_core.data.manifest import probe_videos
from vplan_core.method.plg import prompt_texts
from vplan_core.data.video import segment_middle_times
from vplan_core.features.decoding import sample_frames

torch.set_num_threads(2)
ARCH = "ViT-B-32"
# at the model's size: CLIP's preprocess only normalises them, so both sides see the same pixels
# (its resize, torch's against PIL's: tests/test_extraction_pass.py)
FRAMES = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
TEXTS = prompt_texts("P1", CLASSES)[:5]  # the rule's prompts (five of 25: the suite's time)
HF_NAMES = {  # open_clip name outside the resblocks -> transformers CLIPModel name
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "visual.ln_pre": "vision_model.pre_layrnorm", "visual.ln_post": "vision_model.post_layernorm",
    "ln_final": "text_model.final_layer_norm",
}
HF_BLOCK_NAMES = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1",
                  "mlp.c_proj": "mlp.fc2", "attn.out_proj": "self_attn.out_proj"}


# ---------------------------------------------------------------- writing the published forms
def to_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """open_clip CLIP state dict -> transformers CLIPModel's (modeling_clip parameter names,
    position_ids buffers included as in openai/clip-vit-* pytorch_model.bin)."""
    out = {}
    for key, value in state.items():
        tower = "vision_model" if key.startswith("visual.") else "text_model"
        name = key.removeprefix("visual.")
        attn = re.fullmatch(r"transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)", name)
        block = re.fullmatch(r"transformer\.resblocks\.(\d+)\.(.+)\.(weight|bias)", name)
        if key in ("visual.proj", "text_projection"):  # x @ proj [in, out] -> Linear [out, in]
            out[f"{'visual' if key == 'visual.proj' else 'text'}_projection.weight"] = \
                value.T.contiguous()
        elif key == "logit_scale":
            out[key] = value
        elif attn:
            for part, chunk in zip("qkv", value.chunk(3)):
                out[f"{tower}.encoder.layers.{attn[1]}.self_attn.{part}_proj.{attn[2]}"] = \
                    chunk.clone()
        elif block:
            out[f"{tower}.encoder.layers.{block[1]}.{HF_BLOCK_NAMES[block[2]]}.{block[3]}"] = value
        elif key in HF_NAMES:
            out[HF_NAMES[key]] = value
        else:  # layer norms
            base, kind = key.rsplit(".", 1)
            out[f"{HF_NAMES[base]}.{kind}"] = value
    for tower, length in (("vision_model", state["visual.positional_embedding"].shape[0]),
                          ("text_model", state["positional_embedding"].shape[0])):
        out[f"{tower}.embeddings.position_ids"] = torch.arange(length)[None]
    return out


def write_openai_archive(model: torch.nn.Module, path: Path) -> None:
    """Trace the QuickGELU model as OpenAI's releases are: fp16 weights where OpenAI's are fp16,
    the attention mask a traced constant, and the three metadata buffers."""
    convert_weights_to_lp(model, torch.float16)
    model.attn_mask = model._buffers.pop("attn_mask")
    del model.context_length, model.vocab_size  # open_clip's ints; OpenAI's archives hold buffers
    for name, value in (("input_resolution", 224), ("context_length", 77), ("vocab_size", 49408)):
        model.register_buffer(name, torch.tensor(value))
    inputs = {"encode_image": torch.zeros(1, 3, 224, 224, dtype=torch.float16),
              "encode_text": torch.zeros(1, 77, dtype=torch.long)}
    torch.jit.trace_module(model, inputs, check_trace=False).save(str(path))


def open_clip_embeddings(model: torch.nn.Module, preprocess) -> tuple[np.ndarray, np.ndarray]:
    """The oracle side: open_clip's preprocess and tokenizer, the model's own encode_*."""
    pixels = torch.stack([preprocess(Image.fromarray(f)) for f in FRAMES])
    with torch.no_grad():
        images = F.normalize(model.encode_image(pixels).float(), dim=-1)
        texts = F.normalize(model.encode_text(open_clip.get_tokenizer(ARCH)(TEXTS)).float(), dim=-1)
    return images.numpy(), texts.numpy()


def vplan_embeddings(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """What the rules compute: load_clip, then encode_images / encode_texts."""
    model, preprocess, tokenizer = load_clip(ARCH, str(path))
    return encode_images(model, FRAMES), encode_texts(model, tokenizer, TEXTS)


@pytest.fixture(scope="session")
def clip_files(tmp_path_factory):
    """Every published form of one random ViT-B-32, and the embeddings of the models written."""
    folder = tmp_path_factory.mktemp("clip_checkpoints")
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(ARCH)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    state = model.eval().state_dict()
    quick = open_clip.create_model(ARCH, quick_gelu=True).eval()
    quick.load_state_dict(state)
    refs = {"gelu": open_clip_embeddings(model, preprocess),
            "quick_gelu": open_clip_embeddings(quick, preprocess)}
    paths = {"open_clip bin": folder / "open_clip_pytorch_model.bin",
             "open_clip safetensors": folder / "open_clip_model.safetensors",
             "open_clip DDP training checkpoint": folder / "epoch_32.pt",
             "transformers bin + config.json": folder / "hf-bin" / "pytorch_model.bin",
             "transformers safetensors": folder / "hf-safetensors" / "model.safetensors",
             "openai": folder / "ViT-B-32.pt"}
    torch.save(state, paths["open_clip bin"])
    save_file(state, paths["open_clip safetensors"])
    torch.save({"epoch": 32, "name": "ViT-B-32", "state_dict": {f"module.{k}": v for k, v in state.items()},
                "optimizer": {"state": {}, "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.98), "params": [0]}]}},
               paths["open_clip DDP training checkpoint"])
    hf = to_transformers(state)
    for key in ("transformers bin + config.json", "transformers safetensors"):
        paths[key].parent.mkdir()
    torch.save(hf, paths["transformers bin + config.json"])
    (paths["transformers bin + config.json"].parent / "config.json").write_text(json.dumps({
        "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 512,
        "text_config": {"hidden_act": "quick_gelu", "hidden_size": 512},
        "vision_config": {"hidden_act": "quick_gelu", "hidden_size": 768, "patch_size": 32}}))
    save_file(hf, paths["transformers safetensors"])
    del model, state, hf
    write_openai_archive(quick, paths["openai"])
    return paths, refs, preprocess


@pytest.fixture(scope="module")
def openai_oracle(clip_files):
    """open_clip's own reader of OpenAI's archives (torch.jit.load + build from its state dict)."""
    paths, _, preprocess = clip_files
    return open_clip.load_openai_model(str(paths["openai"]), device="cpu"), preprocess


# ---------------------------------------------------------------- accepted forms
@pytest.mark.slow
def test_openai_archive_equals_open_clips_openai_loader(clip_files, openai_oracle):
    paths, _, _ = clip_files
    found = inspect_checkpoint(paths["openai"])
    assert (found.form, found.container, found.quick_gelu) == ("openai-torchscript", "torchscript zip", True)
    with pytest.raises(RuntimeError, match="TorchScript"):  # why vplan reads the archive itself
        torch.load(paths["openai"], weights_only=True)
    expected = open_clip_embeddings(*openai_oracle)
    for got, want in zip(vplan_embeddings(paths["openai"]), expected):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert check_checkpoint(paths["openai"], ARCH) == []


@pytest.mark.slow
@pytest.mark.parametrize("form, activation", [
    ("open_clip bin", "gelu"), ("open_clip safetensors", "gelu"),
    ("open_clip DDP training checkpoint", "gelu"),
    ("transformers bin + config.json", "quick_gelu"), ("transformers safetensors", "gelu")])
def test_state_dict_forms_equal_the_model_written(clip_files, form, activation):
    """transformers files: the activation is config.json's when one is beside the file, else the
    named architecture's (ViT-B-32: GELU)."""
    paths, refs, _ = clip_files
    found = inspect_checkpoint(paths[form])
    assert found.form == ("hf-transformers" if form.startswith("transformers") else "open_clip")
    assert found.container == ("safetensors" if "safetensors" in form else "torch zip")
    for got, want in zip(vplan_embeddings(paths[form]), refs[activation]):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert check_checkpoint(paths[form], ARCH) == []


@pytest.mark.slow
def test_clip_rules_run_on_the_openai_archive(clip_files, openai_oracle, tmp_path):
    """extract_features (clip) and text_embeddings (clip) call these entry points."""
    paths, _, _ = clip_files
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "aaaaaaaaaaa_0_10.mp4", fps=25, width=96, height=72)
    rows = probe_videos(["aaaaaaaaaaa"], videos)
    settings = {"model_name": ARCH, "checkpoint": str(paths["openai"]), "batch_size": 16}
    summary = extract_shard({"clip": settings}, rows, {"clip": tmp_path / "clip.zarr"})["clip"]
    feats, ids, attrs = read_store(tmp_path / "clip.zarr")
    assert summary["n_written"] == 1 and ids == ["aaaaaaaaaaa"] and feats.shape == (1, 10, 512)
    assert attrs["checkpoint_format"] == {"form": "openai-torchscript", "container": "torchscript zip",
                                          "activation": ["QuickGELU"]}
    assert attrs["weights"] == str(paths["openai"].resolve()) and len(attrs["weights_sha256"]) == 64
    model, preprocess = openai_oracle
    frames = sample_frames(rows[0]["path"], segment_middle_times(10), 224)
    pixels = torch.stack([preprocess(Image.fromarray(f)) for f in frames])
    with torch.no_grad():
        expected = F.normalize(model.encode_image(pixels), dim=-1).numpy()
    np.testing.assert_allclose(feats[0], expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_wrong_architecture_is_named_before_loading(clip_files):
    paths, _, _ = clip_files
    for form in ("openai", "transformers safetensors"):
        [problem] = check_checkpoint(paths[form], "ViT-L-14")
        for needle in (CONFIG_KEY, str(paths[form]), "features.clip.model_name", "'ViT-L-14'",
                       "visual.class_embedding: file (768,) vs model (1024,)"):
            assert needle in problem, (needle, problem)
    [problem] = check_checkpoint(paths["openai"], "ViT-B-99")
    assert "features.clip.model_name" in problem and "ViT-B-99" in problem


# ---------------------------------------------------------------- rejected forms (small files)
def tiny_clip_state() -> dict[str, torch.Tensor]:
    """A few tensors under open_clip's names: enough for a file to be recognised."""
    return {"visual.proj": torch.randn(8, 4), "token_embedding.weight": torch.randn(16, 8),
            "positional_embedding": torch.randn(5, 8), "logit_scale": torch.tensor(4.6)}


def write_truncated_zip(path: Path) -> None:
    torch.save(tiny_clip_state(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def write_truncated_safetensors(path: Path) -> None:
    save_file(tiny_clip_state(), path)
    path.write_bytes(path.read_bytes()[:-40])


def write_other_torchscript(path: Path) -> None:
    torch.jit.trace(torch.nn.Linear(3, 2), torch.zeros(1, 3)).save(str(path))


def write_mixed_activation_hf(path: Path) -> None:
    save_file(to_transformers({**tiny_clip_state(), "visual.positional_embedding": torch.randn(5, 8)}), path)
    (path.parent / "config.json").write_text(json.dumps({
        "model_type": "clip", "text_config": {"hidden_act": "gelu"}, "vision_config": {}}))


REJECTED = {  # file name, writer, what the message must say was found
    "empty": ("ViT-B-32.pt", lambda p: p.touch(), "an empty file (0 bytes)"),
    "text": ("ViT-B-32.pt", lambda p: p.write_text("ViT-B-32 weights go here\n"), "a text file"),
    "html": ("ViT-B-32.pt", lambda p: p.write_text("<!DOCTYPE html><html>Sign in</html>"), "an HTML/XML page"),
    "lfs pointer": ("open_clip_model.safetensors", lambda p: p.write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 605147564\n"), "a Git LFS pointer"),
    "ResNet state dict": ("resnet18.pth", lambda p: torch.save(torchvision.models.resnet18().state_dict(), p),
                          "a torch zip state dict that is no CLIP checkpoint (122 tensors, e.g. conv1.weight"),
    "truncated zip": ("open_clip_pytorch_model.bin", write_truncated_zip, "a truncated or damaged zip archive"),
    "truncated safetensors": ("open_clip_model.safetensors", write_truncated_safetensors,
                              "a truncated safetensors file"),
    "legacy torch.save": ("ViT-B-32.pt", lambda p: torch.save(tiny_clip_state(), p, _use_new_zipfile_serialization=False),
                          "legacy (pre-1.6) format"),
    "plain pickle": ("ViT-B-32.pkl", lambda p: p.write_bytes(pickle.dumps({"a": 1})),
                     "a Python pickle that is not a torch.save zip file"),
    "npz": ("ViT-B-32.npz", lambda p: np.savez(p, a=np.zeros(3)), "a zip archive without torch records"),
    "other TorchScript": ("model.pt", write_other_torchscript, "a TorchScript archive that is no CLIP"),
    "misnamed safetensors": ("open_clip_model.bin", lambda p: save_file(tiny_clip_state(), p),
                             "an open_clip state dict in safetensors format named *.bin"),
    "transformers, two activations": ("model.safetensors", write_mixed_activation_hf,
                                      "states activations {'text': 'gelu', 'vision': 'quick_gelu'}"),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejected_files_are_named_before_any_job_and_by_the_loader(tmp_path, case):
    name, write, found = REJECTED[case]
    path = tmp_path / name
    write(path)
    [problem] = check_checkpoint(path, ARCH)
    for needle in (f"config key '{CONFIG_KEY}'", str(path), found, "Expected one of"):
        assert needle in problem, (needle, problem)
    with pytest.raises(CheckpointError) as err:
        load_clip(ARCH, str(path))
    assert str(err.value) == problem


def test_a_second_clip_feature_names_its_own_keys(tmp_path):
    """A second CLIP spec reusing clip.py's functions (as a clip_l14 for visual PLG would) is
    told its name by the registry: each entry point's error names features.clip_l14.*, not clip's."""
    second = replace(FEATURES["clip"], name="clip_l14")
    no_clip, hf_file = tmp_path / "ViT-L-14.pt", tmp_path / "model.safetensors"
    no_clip.write_text("ViT-L-14 weights go here\n")
    save_file(to_transformers({**tiny_clip_state(), "visual.positional_embedding": torch.randn(5, 8)}), hf_file)
    np.save(tmp_path / "aaaaaaaaaaa.npy", np.zeros((10, 768), np.float32))
    bad_file, bad_model = {"model_name": ARCH, "checkpoint": str(no_clip)}, {"model_name": "ViT-L-99",
                                                                            "checkpoint": str(hf_file)}

    def names_its_key(problem: str, key: str):
        assert f"config key 'features.clip_l14.{key}'" in problem and "features.clip." not in problem, problem

    names_its_key(*second.check_weights(bad_file), "checkpoint")
    names_its_key(*second.check_weights(bad_model), "model_name")
    names_its_key(*second.labels.check_folder("clip_l14", str(tmp_path), bad_model), "model_name")
    with pytest.raises(CheckpointError) as extraction:
        second.build_extractor(bad_file, "cpu")
    names_its_key(str(extraction.value), "checkpoint")
    with pytest.raises(CheckpointError) as texts:
        second.labels.encode_texts("clip_l14", bad_file, TEXTS)
    names_its_key(str(texts.value), "checkpoint")


def test_safetensors_header_alone_gives_the_layout(tmp_path):
    """checkpoint_files.safetensors_layout, the one header reader of CLIP's and CLAP's checks."""
    state = {**tiny_clip_state(), "half": torch.zeros(3, 2, dtype=torch.bfloat16),
             "mask": torch.ones(4, dtype=torch.bool), "steps": torch.tensor([7], dtype=torch.int64)}
    path = tmp_path / "model.safetensors"
    save_file(state, path)
    layout = safetensors_layout(path)
    assert {k: (tuple(v.shape), v.dtype) for k, v in layout.items()} == \
        {k: (tuple(v.shape), v.dtype) for k, v in state.items()}
    assert all(v.device.type == "meta" for v in layout.values())
    torch.save(state, tmp_path / "model.pt")
    assert safetensors_layout(tmp_path / "model.pt") is None  # a zip: not safetensors
    (tmp_path / "text.safetensors").write_text("not weights")
    assert safetensors_layout(tmp_path / "text.safetensors") is None
    data = path.read_bytes()
    for keep, part, needed in ((len(data) - 40, "tensors", len(data)), (20, "header", None)):
        path.write_bytes(data[:keep])
        with pytest.raises(TruncatedSafetensors) as err:
            safetensors_layout(path)
        assert (err.value.part, err.value.size) == (part, keep)
        assert needed is None or err.value.needed == needed


class _Payload:
    """What a malicious archive could pickle: a call of os.system when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_archive_code_is_never_run(tmp_path):
    """A TorchScript archive whose data.pkl calls os.system is refused, and nothing runs."""
    path, marker = tmp_path / "ViT-B-32.pt", tmp_path / "ran"
    write_other_torchscript(path)
    with zipfile.ZipFile(path) as zf:
        records = {n: zf.read(n) for n in zf.namelist()}
    data_pkl = next(n for n in records if n.endswith("/data.pkl"))
    records[data_pkl] = pickle.dumps(_Payload(marker), protocol=2)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in records.items():
            zf.writestr(name, data)
    [problem] = check_checkpoint(path, ARCH)
    assert f"names {os.name}.system" in problem and "refusing" in problem
    with pytest.raises(CheckpointError):
        load_clip(ARCH, str(path))
    assert not marker.exists()
