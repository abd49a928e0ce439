"""VALOR's label rules as PLG's (method/plg.py, features/clip.py) against a verbatim transcription
of Franklin905/VALOR's (tests/official/valor_official_labels.py): its captions and thresholds,
its rule on generated logits, its frame choice, and CLIP ViT-L/14's logits_per_image in the
Hugging Face format it uses (a tiny seeded random transformers CLIPModel here)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.official import valor_official_labels as official
from vplan_core.data.description import LLP
CLASSES = LLP.classes
from vplan_core.features.clip import encode_images, frame_times, load_clip, text_embeddings
from vplan_core.method.plg import (CAPTIONS, VALOR_CLAP_THRESHOLDS, VALOR_CLIP_THRESHOLDS, label_segments,
                                   prompt_texts, scaled_logits, threshold_labels)
from vplan_core.plan import plg_settings

torch.set_num_threads(1)
RULES = {  # feature -> VALOR's function, thresholds and captions
    "clip": (official.clip_get_segment_pseudo_labels, official.clip_thresholds, official.clip_event_captions),
    "clap": (official.clap_get_segment_pseudo_labels, official.clap_thresholds, official.clap_event_captions),
}


def test_captions_and_thresholds_are_valors():
    assert prompt_texts("VALOR-CLIP", CLASSES) == official.clip_event_captions
    assert prompt_texts("VALOR-CLAP", CLASSES) == official.clap_event_captions
    assert "This is a sound of chicken, rooster" in CAPTIONS["VALOR-CLAP"]
    assert list(VALOR_CLIP_THRESHOLDS) == official.clip_thresholds.tolist()
    assert list(VALOR_CLAP_THRESHOLDS) == official.clap_thresholds.tolist()
    with pytest.raises(ValueError, match="LLP's 25 classes"):
        prompt_texts("VALOR-CLIP", CLASSES[:3])


def valor_labels(feature: str, logits: np.ndarray, video_labels: np.ndarray) -> np.ndarray:
    """VALOR's get_segment_pseudo_labels of each video, thresholds as its __main__ sets them."""
    function, thresholds, _ = RULES[feature]
    theta = torch.from_numpy(thresholds).unsqueeze(0).expand(10, -1)  # __main__: .unsqueeze(0).expand(10, -1)
    return np.stack([function(torch.from_numpy(logits[i]), theta, torch.from_numpy(video_labels[i]), "cpu").numpy()
                     for i in range(len(logits))])


def generated_labels(rng, n: int) -> np.ndarray:
    video_labels = (rng.random((n, 25)) < 0.3).astype(np.float32)
    video_labels[0] = 0  # VALOR's labels have a class at least; an empty one is checked too
    return video_labels


@pytest.mark.parametrize("feature", list(RULES))
def test_threshold_rule_equals_valors_function_on_generated_logits(feature):
    """threshold_labels with the feature's thresholds, as the plg_labels job gets them
    (plg_settings: rule "thresholds"), equals VALOR's function on logits that straddle its
    thresholds, some exactly on one (not above: no label)."""
    rng = np.random.default_rng(0)
    thresholds = np.asarray(RULES[feature][1], dtype=np.float32)
    logits = (thresholds + rng.normal(0, 3, size=(40, 10, 25))).astype(np.float32)
    logits[1, 3] = thresholds
    video_labels = generated_labels(rng, 40)
    settings = {k: v for k, v in plg_settings({"plg": {feature: {"rule": "thresholds"}}}, feature).items()
                if k != "prompt"}
    assert settings["rule"] == "thresholds" and settings["thresholds"] == list(RULES[feature][1])
    expected = valor_labels(feature, logits, video_labels)
    np.testing.assert_array_equal(threshold_labels(logits, settings["thresholds"], video_labels), expected)
    assert 0 < expected.sum() < (video_labels.sum() * 10) and expected[1, 3].sum() == 0


@pytest.mark.parametrize("feature", list(RULES))
def test_label_segments_with_thresholds_is_valors_rule_on_its_logits(feature):
    """From embeddings: label_segments (rule "thresholds") equals VALOR's function on VALOR's
    logits, logit_scale * normalised segment @ normalised text (clap_preprocess.py:116;
    transformers' logits_per_image for CLIP, tests below)."""
    rng = np.random.default_rng(1)
    segments, text = rng.normal(size=(30, 10, 8)), rng.normal(size=(25, 8))
    scale = 100.0 / 4  # cosines of random 8-d vectors: logits within +-25, around the thresholds
    video_labels = generated_labels(rng, 30)
    settings = {k: v for k, v in plg_settings({"plg": {feature: {"rule": "thresholds"}}}, feature).items()
                if k != "prompt"}
    ours = label_segments(segments, {"embeddings": text, "logit_scale": np.float32(scale)}, video_labels, **settings)
    a = torch.nn.functional.normalize(torch.from_numpy(segments).float(), dim=-1)
    t = torch.nn.functional.normalize(torch.from_numpy(text).float(), dim=-1)
    logits = (scale * a @ t.t()).numpy()
    np.testing.assert_array_equal(ours, valor_labels(feature, logits, video_labels))
    assert ours.sum() > 10


def test_valor_frame_choice():
    """features.clip.frames: valor picks, of the clip's 8-fps frames (utils/extract_frames.py,
    ffmpeg -r 8), clip_preprocess.py's 10 indices; the default stays each second's middle."""
    indices = official.clip_frame_indices(list(range(80)))
    np.testing.assert_array_equal(frame_times({"frames": "valor", "seconds": 10}) * 8, indices)
    np.testing.assert_array_equal(frame_times({"frames": "valor", "seconds": 10, "start_s": 2.0}), 2.0 + indices / 8)
    np.testing.assert_array_equal(frame_times({"seconds": 10}), np.arange(10) + 0.5)


def test_squash_resize_is_valors_transform():
    """resize: squash, against VALOR's transforms (ToTensor, Resize((S, S)) without antialiasing,
    as torchvision 0.13 resized tensors) before normalisation: within the rounding to uint8."""
    import torchvision.transforms.functional as TF
    from vplan_core.data.frames import resize_squash

    frames = np.random.default_rng(2).integers(0, 256, (2, 36, 64, 3), dtype=np.uint8)
    ours = resize_squash(frames, 24).permute(0, 3, 1, 2).float() / 255
    valor = torch.stack([TF.resize(TF.to_tensor(f), [24, 24], antialias=False) for f in frames])
    torch.testing.assert_close(ours, valor, atol=0.5 / 255 + 1e-6, rtol=0)


TINY = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}


@pytest.fixture(scope="module")
def hf_clip(tmp_path_factory):
    """A tiny seeded random transformers CLIPModel saved as published (config.json +
    model.safetensors), every parameter perturbed, its logit scale CLIP's 100; and the open_clip
    architecture of the same sizes (the project names its CLIP by architecture)."""
    from transformers import CLIPConfig, CLIPModel

    folder = tmp_path_factory.mktemp("hf_clip")
    vision, text = TINY["vision_cfg"], TINY["text_cfg"]
    config = CLIPConfig(projection_dim=TINY["embed_dim"],
                        text_config=dict(hidden_size=text["width"], intermediate_size=4 * text["width"],
                                         num_hidden_layers=text["layers"], num_attention_heads=text["heads"],
                                         max_position_embeddings=text["context_length"], vocab_size=text["vocab_size"]),
                        vision_config=dict(hidden_size=vision["width"], intermediate_size=4 * vision["width"],
                                           num_hidden_layers=vision["layers"],
                                           num_attention_heads=vision["width"] // vision["head_width"],
                                           image_size=vision["image_size"], patch_size=vision["patch_size"]))
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
        model.logit_scale.fill_(np.log(100.0))
    model.save_pretrained(folder / "model")
    (folder / "tiny-hf-clip.json").write_text(json.dumps(TINY))
    return model, folder


@pytest.mark.slow
def test_hf_clip_logits_equal_transformers_logits_per_image(hf_clip):
    """The project's CLIP from a transformers CLIPModel folder's files (load_clip on
    model.safetensors, config.json beside it; features.clip.checkpoint): its image and text
    embeddings and the text file's logit scale give transformers' own logits_per_image, the
    logits VALOR thresholds (clip_preprocess.py calculate_visual_logits)."""
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    model, folder = hf_clip
    settings = {"model_name": "tiny-hf-clip", "checkpoint": str(folder / "model" / "model.safetensors"),
                "config_file": str(folder / "tiny-hf-clip.json")}
    assert (folder / "model" / "config.json").is_file()
    frames = np.random.default_rng(3).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    captions = official.clip_event_captions[:5]
    project, _, tokenizer = load_clip(settings["model_name"], settings["checkpoint"], settings["config_file"])
    text = text_embeddings(settings, captions)
    ours = scaled_logits(encode_images(project, frames)[None], text["embeddings"], float(text["logit_scale"]))[0]

    pixels = (torch.from_numpy(frames).float() / 255 - torch.tensor(OPENAI_CLIP_MEAN)) / torch.tensor(OPENAI_CLIP_STD)
    with torch.no_grad():
        expected = model(input_ids=tokenizer(captions), pixel_values=pixels.permute(0, 3, 1, 2)).logits_per_image
    assert float(text["logit_scale"]) == pytest.approx(100.0, rel=1e-6)
    np.testing.assert_allclose(ours, expected.numpy(), atol=2e-4, rtol=0)
    assert np.ptp(ours) > 1  # the perturbed weights tell captions apart


@pytest.mark.slow
def test_valor_from_videos_config_plans(tmp_path):
    """config/llp_valor_from_videos.yaml plans on real LLP annotations (placeholder files where
    the run reads its inputs): CLIP extracted from the videos with VALOR's frames and resize, both
    PLG features labelled with VALOR's captions and thresholds, the released labels imported,
    and VALOR and VALOR+ trained on the remade labels (valor_plg)."""
    import yaml
    from safetensors.torch import save_file

    from tests.test_llp import LLP_DIR
    from tests.workflow_runs import REPO, snakemake, write_config
    from vplan_core.demo.clap_training import build_tokenizer

    config = yaml.safe_load((REPO / "config/llp_valor_from_videos.yaml").read_text())
    assert config["features"]["clip"]["frames"] == "valor" and config["features"]["clip"]["resize"] == "squash"
    config["dataset"]["annotations"] = str(LLP_DIR)
    for key in ("videos", "official_features"):
        config["dataset"][key] = str(tmp_path / key)
    for sub in ("vggish", "res152", "r2plus1d_18", "videos"):
        (tmp_path / ("videos" if sub == "videos" else f"official_features/{sub}")).mkdir(parents=True, exist_ok=True)
    for modality in ("visual", "audio"):
        folder = tmp_path / modality / "segment_pseudo_labels"
        folder.mkdir(parents=True)
        np.save(folder / "placeholder.npy", np.zeros((10, 25), dtype=np.int64))
        config["dataset"]["released_labels"][modality] = str(tmp_path / modality)
    weights = tmp_path / "weights"
    weights.mkdir()
    for section, key in (("vggish", "weights"), ("vggish", "pca_params"), ("cnn2d", "weights"), ("r2plus1d", "weights")):
        path = weights / Path(config["features"][section][key]).name
        path.touch()
        config["features"][section][key] = str(path)
    clip = weights / "model.safetensors"  # recognised as a CLIP file; only a job would load it
    save_file({"visual.proj": torch.zeros(2, 2), "token_embedding.weight": torch.zeros(3, 2)}, str(clip))
    build_tokenizer(weights / "tokenizer", prompt_texts("VALOR-CLAP", CLASSES), vocab_size=300)
    reference = REPO / "tests/data/laion_clap"
    config["features"]["clip"]["checkpoint"] = str(clip)
    config["features"]["clap"].update(checkpoint=str(reference / "fused.pt"), config=str(reference / "config_fused.json"),
                                      tokenizer=str(weights / "tokenizer"))
    configfile = write_config(tmp_path, config)

    dry_run = snakemake(tmp_path, configfile, "--dry-run")
    jobs, rule = [], None  # (rule, wildcards) of every planned job
    for line in (dry_run.stdout + dry_run.stderr).splitlines():
        if re.match(r"^(local)?rule \w+:$", line):
            rule = line.split()[-1][:-1]
        elif rule and line.strip().startswith("wildcards:"):
            jobs.append((rule, dict(item.split("=", 1) for item in line.split(":", 1)[1].strip().split(", "))))
    trained = {(w.get("model"), w.get("row")) for rule, w in jobs if rule == "train_row"}
    assert {("valor", "valor_plg"), ("valor_plus", "valor_plg"), ("valor", "valor_released")} <= trained
    assert {w["feature"] for rule, w in jobs if rule == "plg_labels"} == {"clip", "clap"}
    assert {w["feature"] for rule, w in jobs if rule == "text_embeddings"} == {"clip", "clap"}
    assert "clip" in {w.get("feature") for rule, w in jobs if rule == "extraction_settings"}


def test_remade_vs_released_comparison(tmp_path):
    """studies/remade_vs_released_labels.py on label files of real LLP val videos: the released
    labels the dense visual truth, the remade ones the same with one video's labels dropped, on
    the videos both files hold."""
    from studies.remade_vs_released_labels import compare
    from tests.test_llp import LLP_DIR
    from vplan_core.data.dataset import save_labels
    from vplan_core.data.annotations import load_split

    split = load_split(LLP_DIR, "val")
    ids, truth = split.video_ids[:20], split.gt_visual[:20].astype(np.uint8)
    remade = truth.copy()
    remade[3] = 0
    for kind, folder, labels, videos in (("remade", "plg/clip", remade, ids), ("released", "released/visual", truth, ids[1:])):
        (tmp_path / "labels" / folder).mkdir(parents=True)
        save_labels(tmp_path / "labels" / folder / "val.npz", videos if kind == "released" else ids,
                    labels[1:] if kind == "released" else labels)
    found = compare(tmp_path, str(LLP_DIR), "visual", "val")
    agreement = found["agreement"]
    assert agreement["videos"] == 19 and agreement["precision"] == 100.0
    assert agreement["recall"] == pytest.approx(100.0 * (truth[1:].sum() - truth[3].sum()) / truth[1:].sum())
    assert agreement["identical_videos"] == pytest.approx(100.0 * (18 if truth[3].any() else 19) / 19)
    assert found["against_truth"]["segment_event"]["released"]["segment_f"] == 100.0
    assert compare(tmp_path, str(LLP_DIR), "audio", "val") is None


@pytest.mark.slow
def test_clip_extraction_with_valors_frames_and_resize_equals_transformers(hf_clip, tmp_path):
    """The extraction job's CLIP store with frames: valor and resize: squash, from a real mp4:
    each row is transformers' image embedding (its projected pooled output, normalised, as
    clip_preprocess.py's get_image_embedding) of VALOR's frame for that segment, resized and
    normalised as its transforms do, within the uint8 rounding after the resize."""
    import torchvision.transforms.functional as TF
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    from tests.media import write_video
    from vplan_core.data.manifest import probe_videos
    from vplan_core.data.video import decode_frames
    from vplan_core.feature_store import read_store
    from vplan_core.features.extract import extract_shard

    model, folder = hf_clip
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "aaaaaaaaaaa_0_10.mp4", fps=25, width=96, height=72)
    rows = probe_videos(["aaaaaaaaaaa"], videos)
    settings = {"model_name": "tiny-hf-clip", "checkpoint": str(folder / "model" / "model.safetensors"),
                "config_file": str(folder / "tiny-hf-clip.json"), "size": 32, "frames": "valor", "resize": "squash",
                "batch_size": 16}
    extract_shard({"clip": settings}, rows, {"clip": tmp_path / "clip.zarr"})
    feats, ids, attrs = read_store(tmp_path / "clip.zarr")
    assert feats.shape == (1, 10, TINY["embed_dim"]) and "VALOR" in attrs["sampling"]["frame_times"]

    frames = decode_frames(rows[0]["path"], official.clip_frame_indices(list(range(80))) / 8)
    pixels = torch.stack([TF.normalize(TF.resize(TF.to_tensor(f), [32, 32], antialias=False), OPENAI_CLIP_MEAN,
                                       OPENAI_CLIP_STD) for f in frames])
    with torch.no_grad():
        image_embeds = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
        expected = torch.nn.functional.normalize(image_embeds, dim=-1)
    np.testing.assert_allclose(feats[0], expected.numpy(), atol=5e-3, rtol=0)
    other = frame_times({"seconds": 10})  # the default frames differ: the test can tell them apart
    assert not np.allclose(decode_frames(rows[0]["path"], other), frames)
