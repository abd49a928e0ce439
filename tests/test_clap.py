"""CLAP for audio PLG: VALOR's windows on a real mp4, the preprocessing against transformers'
feature extractor, each checkpoint form against its reference loader, named errors for wrong
files, VALOR's threshold rule, released features, and the demo CLAP."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.laion_clap.make_reference import TOKENS, reference_windows
from tests.media import Audio, write_truncated, write_video
from vplan_core.data.official import OfficialFeatureError
from vplan_core.data.released_labels import load_valor_labels
from vplan_core.data.video import sample_audio
from vplan_core.demo import clap_training
from vplan_core.features import clap, clap_audio, clap_checkpoints
from vplan_core.method import plg

REFERENCE = Path(__file__).parent / "data" / "laion_clap"
KEY = clap_checkpoints.CONFIG_KEY


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    texts = plg.prompt_texts(plg.AUDIO_PROMPT, ["dog", "cat", "car"]) + ["a b c d e f g h"]
    clap_training.build_tokenizer(folder, texts, vocab_size=300)
    return folder


def tiny_config(fusion: bool) -> dict:
    return json.loads((REFERENCE / f"config_{'fused' if fusion else 'unfused'}.json").read_text())


def _random_model(fusion: bool, seed: int = 0):
    from transformers import ClapConfig, ClapModel

    torch.manual_seed(seed)
    model = ClapModel(ClapConfig.from_dict(tiny_config(fusion))).eval()
    with torch.no_grad():  # batch-norm statistics off their init, so a lost buffer shows
        for name, buffer in model.named_buffers():
            if name.endswith(("running_mean", "running_var")):
                buffer.uniform_(0.5, 1.5)
    return model


def _outputs(model, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    audio = clap.encode_audio_windows(model, windows, batch_size=7)
    with torch.no_grad():
        text = model.get_text_features(input_ids=torch.tensor(TOKENS["input_ids"]),
                                       attention_mask=torch.tensor(TOKENS["attention_mask"])).pooler_output
    return audio, text.numpy()


def _video_windows() -> np.ndarray:
    """[1, 10, 48000]: the three reference windows, cycled."""
    return reference_windows()[None, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]]


# ---------------------------------------------------------------- windows
@pytest.mark.parametrize("n", [480000, 479999, 441000, 480007, 95])
def test_window_bounds_are_valors(n):
    samples = np.round(np.linspace(0, n, 11)).astype(np.int32)  # utils/clap_preprocess.py
    step = n // 10
    assert clap_audio.window_bounds(n) == [(samples[i], samples[i] + step) for i in range(10)]
    assert all(b <= n for _, b in clap_audio.window_bounds(n))


def test_each_window_of_a_real_mp4_holds_its_seconds_tone(tmp_path):
    tones = (300.0, 500.0, 700.0, 900.0, 1100.0, 1300.0, 1500.0, 1700.0, 1900.0, 2100.0)
    path = tmp_path / "tones.mp4"
    write_video(path, seconds=10.0, fps=10, audio=Audio(2, 44100, tones=tones, amplitude=0.4))
    wave = sample_audio(path, sample_rate=clap_audio.AUDIO_RATE)
    windows = clap_audio.audio_windows(wave)
    assert windows.shape == (10, 48000) and windows.dtype == np.float32
    freqs = np.fft.rfftfreq(48000, 1 / 48000)
    for second, window in enumerate(windows):
        # the middle 0.8 s: resampling and AAC smear a tone change over a few milliseconds
        spectrum = np.abs(np.fft.rfft(window[4800:43200], 48000))
        assert freqs[spectrum.argmax()] == pytest.approx(tones[second], abs=2), second
        energy = {f: spectrum[np.abs(freqs - f) < 20].sum() for f in tones}
        assert max(energy, key=energy.get) == tones[second]


def test_audio_windows_rejects_stereo():
    with pytest.raises(ValueError, match="mono"):
        clap_audio.audio_windows(np.zeros((2, 48000)))


# ---------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("fusion", [True, False])
def test_preprocessing_matches_transformers_feature_extractor(fusion):
    from transformers import ClapFeatureExtractor

    rng = np.random.default_rng(0)
    windows = np.concatenate([reference_windows(), 0.05 * rng.standard_normal((1, 48000))]).astype(np.float32)
    ours = clap_audio.model_input(torch.from_numpy(windows), fusion)
    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=480,
                                     max_length_s=10, fft_window_size=1024, frequency_min=50,
                                     frequency_max=14000, padding="repeatpad",
                                     truncation="fusion" if fusion else "rand_trunc")
    quantised = clap_audio.quantise(torch.from_numpy(windows)).numpy()
    theirs = extractor(list(quantised), sampling_rate=48000, return_tensors="np")["input_features"]
    assert ours["input_features"].shape == theirs.shape == (4, 4 if fusion else 1, 1001, 64)
    diff = np.abs(ours["input_features"].numpy() - theirs)
    # dB. Ours is float32 (as torchaudio's and torchlibrosa's front ends are), theirs float64: they
    # part only 80 dB and more below the windows' peaks (about +20 dB), at float32's resolution.
    assert np.median(diff) < 1e-4 and diff[theirs > -60].max() < 0.02 and diff.max() < 0.5
    assert not ours["is_longer"].any()  # laion_clap at inference: never "longer" (no fusion branch)


def test_periodic_shortcut_is_the_full_spectrogram():
    x = clap_audio.repeat_pad(clap_audio.quantise(torch.from_numpy(reference_windows())))
    for fusion in (True, False):
        assert torch.equal(clap_audio.log_mel(x, fusion, period=48000), clap_audio.log_mel(x, fusion))
    odd = clap_audio.repeat_pad(torch.from_numpy(reference_windows()[:, :47000]))  # zeros at the end
    assert clap_audio.model_input(torch.from_numpy(reference_windows()[:, :47000]), True)[
        "input_features"].shape == (3, 4, 1001, 64)
    assert odd.shape == (3, 480000) and torch.all(odd[:, 470000:] == 0)


def test_unfused_front_end_matches_laion_clap_torchlibrosa():
    reference = np.load(REFERENCE / "reference_unfused.npz")["mel"]  # every 10th frame
    x = clap_audio.repeat_pad(clap_audio.quantise(torch.from_numpy(reference_windows())))
    ours = clap_audio.log_mel(x, fusion=False)[:, ::10].numpy()
    diff = np.abs(ours - reference)
    assert np.median(diff) < 1e-3 and diff.max() < 0.1


# ---------------------------------------------------------------- checkpoint forms vs their loaders
@pytest.mark.parametrize("tag", ["fused", "unfused"])
def test_laion_checkpoint_matches_laion_clap(tag, tokenizer_dir):
    """tests/data/laion_clap/{tag}.pt and its reference embeddings were written by laion_clap's
    own CLAP (make_reference.py): loaded through load_clap, ClapModel gives the same."""
    fusion = tag == "fused"
    path, config = REFERENCE / f"{tag}.pt", str(REFERENCE / f"config_{tag}.json")
    assert clap.check_checkpoint(path, fusion, config, str(tokenizer_dir)) == []
    model, tokenizer = clap.load_clap(path, fusion, config, str(tokenizer_dir))
    reference = np.load(REFERENCE / f"reference_{tag}.npz")
    audio, text = _outputs(model, _video_windows())
    np.testing.assert_allclose(audio[0, :3], reference["audio"], atol=1e-5)
    np.testing.assert_allclose(text, reference["text"], atol=1e-5)
    assert clap.logit_scale(model) == pytest.approx(float(reference["logit_scale_a"]), rel=1e-6)
    assert clap.provenance(str(path), model)["form"] == "laion-clap"
    assert clap.provenance(str(path), model)["fusion"] is fusion


@pytest.mark.parametrize("fusion", [True, False])
def test_transformers_folder_loads_as_from_pretrained(fusion, tmp_path, tokenizer_dir):
    from transformers import ClapModel

    folder = tmp_path / "clap-htsat"
    _random_model(fusion).save_pretrained(folder)
    for name in ("vocab.json", "merges.txt"):
        (folder / name).write_bytes((tokenizer_dir / name).read_bytes())
    reference = ClapModel.from_pretrained(folder, local_files_only=True).eval()
    for named in (folder, folder / "model.safetensors"):
        assert clap.check_checkpoint(named, fusion) == []
        model, tokenizer = clap.load_clap(named, fusion)
        for (a, b) in zip(_outputs(model, _video_windows()), _outputs(reference, _video_windows())):
            np.testing.assert_allclose(a, b, atol=1e-5)
        assert clap.provenance(str(named), model)["form"] == "hf-transformers"


def test_laion_form_round_trip(tmp_path, tokenizer_dir):
    """A ClapModel's weights in LAION's published form ("module." names, qkv fused, the tensors
    ClapModel has no place for) load back to the same model."""
    model = _random_model(True, seed=3)
    state = model.state_dict()
    laion = clap_checkpoints.hf_to_laion(state)
    assert clap_checkpoints.laion_to_hf(laion).keys() == state.keys()
    assert all(torch.equal(clap_checkpoints.laion_to_hf(laion)[k], v) for k, v in state.items())
    extra = {"audio_branch.spectrogram_extractor.stft.conv_real.weight": torch.zeros(513, 1, 1024),
             "audio_branch.logmel_extractor.melW": torch.zeros(513, 64),
             "audio_branch.layers.0.blocks.1.attn_mask": torch.zeros(16, 64, 64),
             "audio_branch.tscam_conv.weight": torch.zeros(10, 16, 2, 3),
             "audio_branch.head.weight": torch.zeros(10, 10),
             "audio_transform.sequential.0.weight": torch.zeros(12, 12),
             "text_transform.sequential.3.bias": torch.zeros(12)}
    path = tmp_path / "630k-fusion-best.pt"
    torch.save({"epoch": 45, "name": "fusion", "optimizer": {"lr": 1e-4},
                "state_dict": {f"module.{k}": v for k, v in {**laion, **extra}.items()}}, path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_config(True)))
    loaded, _ = clap.load_clap(path, True, str(config), str(tokenizer_dir))
    for a, b in zip(_outputs(loaded, _video_windows()), _outputs(model, _video_windows())):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_laion_config_is_the_630k_architecture():
    from transformers import ClapConfig, ClapModel

    with torch.device("meta"):
        model = ClapModel(ClapConfig.from_dict(clap_checkpoints.laion_config(True)))
    state = model.state_dict()
    assert state["audio_model.audio_encoder.patch_embed.proj.weight"].shape == (96, 1, 4, 4)
    assert state["audio_model.audio_encoder.norm.weight"].shape == (768,)
    assert state["text_model.embeddings.word_embeddings.weight"].shape == (50265, 768)
    assert state["audio_projection.linear2.weight"].shape == (512, 512)
    assert "audio_model.audio_encoder.patch_embed.fusion_model.local_att.0.weight" in state
    assert model.config.text_config.layer_norm_eps == 1e-5  # roberta-base's, as laion_clap builds it


# ---------------------------------------------------------------- wrong files
def _problems(path, **kwargs) -> str:
    problems = clap.check_checkpoint(path, **kwargs)
    assert len(problems) == 1
    with pytest.raises(clap.CheckpointError) as raised:
        clap.load_clap(path, **kwargs)
    assert str(raised.value) == problems[0]
    return problems[0]


def test_image_clip_checkpoints_are_named(tmp_path):
    path = tmp_path / "ViT-B-32.pt"
    torch.save({"state_dict": {"visual.conv1.weight": torch.zeros(4, 3, 2, 2),
                               "token_embedding.weight": torch.zeros(8, 4)}}, path)
    message = _problems(path, fusion=True)
    assert KEY in message and str(path) in message and "image CLIP" in message
    folder = tmp_path / "clip-vit"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "clip"}))
    from safetensors.torch import save_file
    save_file({"vision_model.embeddings.patch_embedding.weight": torch.zeros(4, 3, 2, 2)},
              folder / "model.safetensors")
    message = _problems(folder, fusion=True)
    assert KEY in message and "'clip'" in message and "features.clip.checkpoint" in message


def test_damaged_files_are_named(tmp_path):
    truncated = write_truncated(REFERENCE / "fused.pt", tmp_path / "630k-fusion-best.pt")
    assert "truncated" in _problems(truncated, fusion=True)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    message = _problems(noise, fusion=True)
    assert KEY in message and "unrecognised content" in message
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert "empty file" in _problems(empty, fusion=True)
    with pytest.raises(FileNotFoundError, match=KEY):
        clap.load_clap(tmp_path / "absent.pt")
    assert KEY in clap.check_checkpoint(tmp_path / "absent.pt")[0]


def test_truncated_safetensors_are_named(tmp_path):
    """The safetensors reader CLIP's checkpoints share (checkpoint_files), with CLAP's key."""
    folder = tmp_path / "clap-htsat"
    _random_model(True).save_pretrained(folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    for keep, part in ((len(data) - 40, "its tensors need"), (100, "its header needs")):
        weights.write_bytes(data[:keep])
        message = _problems(folder, fusion=True)
        assert KEY in message and str(folder) in message and "a truncated safetensors file" in message
        assert part in message and f"the file has {keep})" in message


def test_fusion_mismatch_is_named(tokenizer_dir):
    for tag, fusion in (("fused", False), ("unfused", True)):
        path, config = REFERENCE / f"{tag}.pt", str(REFERENCE / f"config_{tag}.json")
        message = _problems(path, fusion=fusion, config_file=config, tokenizer=str(tokenizer_dir))
        assert clap_checkpoints.FUSION_KEY in message and KEY in message and str(path) in message
        assert ("a non-fused" in message) == (tag == "unfused")


def test_architecture_and_tokenizer_problems_are_named(tmp_path, tokenizer_dir):
    path = REFERENCE / "fused.pt"
    message = _problems(path, fusion=True, tokenizer=str(tokenizer_dir))  # no config: 630k sizes
    assert KEY in message and "shape mismatch" in message and clap_checkpoints.ARCH_KEY in message
    message = _problems(path, fusion=True, config_file=str(REFERENCE / "config_fused.json"))
    assert clap_checkpoints.TOKENIZER_KEY in message
    message = _problems(path, fusion=True, config_file=str(REFERENCE / "config_fused.json"),
                        tokenizer=str(tmp_path))
    assert clap_checkpoints.TOKENIZER_KEY in message and "no tokenizer files" in message
    message = _problems(path, fusion=True, config_file=str(REFERENCE / "config_unfused.json"),
                        tokenizer=str(tokenizer_dir))
    assert clap_checkpoints.ARCH_KEY in message and "enable_fusion=False" in message


# ---------------------------------------------------------------- encoding
def test_encode_audio_windows_takes_lists_of_lengths(tokenizer_dir):
    model, _ = clap.load_clap("random:0", config_file=str(REFERENCE / "config_fused.json"),
                              tokenizer=str(tokenizer_dir))
    videos = [_video_windows()[0], _video_windows()[0][:, :44100], _video_windows()[0]]
    emb = clap.encode_audio_windows(model, videos, batch_size=4)
    assert emb.shape == (3, 10, 12) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(emb[0], emb[2], atol=1e-6)  # batching does not change a window
    one = clap.encode_audio_windows(model, _video_windows(), batch_size=64)
    np.testing.assert_allclose(one[0], emb[0], atol=1e-5)
    with pytest.raises(ValueError, match=r"\[10, L\]"):
        clap.encode_audio_windows(model, [np.zeros((9, 48000))])


# ---------------------------------------------------------------- labels
def test_threshold_rule_and_softmax_rule_are_masked_by_the_video_label():
    rng = np.random.default_rng(0)
    audio, text = rng.standard_normal((2, 10, 6)), rng.standard_normal((3, 6))
    video = np.array([[1, 0, 1], [0, 1, 0]], np.uint8)
    logits = plg.scaled_logits(audio, text, 10.0)
    cos = (audio / np.linalg.norm(audio, axis=-1, keepdims=True)) @ \
        (text / np.linalg.norm(text, axis=-1, keepdims=True)).T
    np.testing.assert_allclose(logits, 10 * cos, rtol=1e-5)
    theta = np.array([0.0, -20.0, 2.0])
    labels = plg.threshold_labels(logits, theta, video)
    assert labels.dtype == np.uint8 and labels.shape == (2, 10, 3)
    np.testing.assert_array_equal(labels, (logits > theta) & video[:, None].astype(bool))
    assert labels[0, :, 1].sum() == 0 and labels[1, :, 1].sum() == 10  # -20: every segment, if labelled
    soft = plg.pseudo_labels(plg.segment_scores(audio, text), video, tau=1 / 3)
    assert soft[0, :, 1].sum() == 0 and soft[1, :, [0, 2]].sum() == 0
    with pytest.raises(ValueError, match="thresholds"):
        plg.threshold_labels(logits, theta[:2], video)


def test_valor_constants():
    assert plg.AUDIO_PROMPT == "This is a sound of [CLS]"
    assert plg.prompt_texts(plg.AUDIO_PROMPT, ["Chicken_rooster"]) == ["This is a sound of chicken rooster"]
    assert len(plg.VALOR_CLAP_THRESHOLDS) == 25 and plg.VALOR_CLAP_THRESHOLDS[5] == -2


# ---------------------------------------------------------------- released features
def test_released_features(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.ones((10, 512), np.float64))
    assert clap.clap_feature_width(good) == 512
    assert clap.load_clap_features(good, 512).dtype == np.float32
    maps = tmp_path / "valor.npy"
    np.save(maps, np.zeros((64, 768), np.float32))
    for read in (clap.clap_feature_width, clap.load_clap_features):
        with pytest.raises(OfficialFeatureError, match="HTSAT feature maps"):
            read(maps)
    with pytest.raises(OfficialFeatureError, match=r"expected \[10, 768\]"):
        clap.load_clap_features(good, 768)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(OfficialFeatureError, match="not a readable"):
        clap.load_clap_features(bad)
    labels = tmp_path / "labels.npy"
    np.save(labels, np.eye(10, 25, dtype=np.int64))
    assert load_valor_labels(labels).dtype == np.uint8
    np.save(labels, np.full((10, 25), 2))
    with pytest.raises(OfficialFeatureError, match="binary"):
        load_valor_labels(labels)


# ---------------------------------------------------------------- demo CLAP
def test_demo_training_windows_mix_classes_from_the_demo_world():
    waves, present = clap_training.training_windows(50, seed=0)
    assert waves.shape == (50, 48000) and waves.dtype == np.float32
    assert set(present.sum(1)) <= {0, 1, 2, 3} and present.sum(1).max() >= 2
    assert np.all(present[np.arange(50)[present.sum(1) > 0], np.arange(50)[present.sum(1) > 0] % 25])


def test_demo_clap_trains_and_loads_through_load_clap(tmp_path):
    out = tmp_path / "demo_clap"
    log = clap_training.train_demo_clap(out, n_examples=48, epochs=2, batch_size=24, seed=0)
    assert log["steps"] == 4 and len(log["losses"]) == 4 and np.isfinite(log["losses"]).all()
    assert clap.check_checkpoint(out, fusion=True) == []
    model, tokenizer = clap.load_clap(out, fusion=True)
    from safetensors.torch import load_file
    saved = load_file(out / "model.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items() if k in saved)
    assert clap.provenance(str(out), model) == {**clap.provenance(str(out), model), "form": "hf-transformers"}
    texts = clap.encode_texts(model, tokenizer, plg.prompt_texts(plg.AUDIO_PROMPT, ["Dog", "Cat"]))
    assert texts.shape == (2, 32) and np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    report = clap_training.evaluate_demo_clap(model, tokenizer, n_videos=2)
    assert 0 <= report["segment_f"] <= 100 and report["n_videos"] == 2
    assert "fused" in clap.check_checkpoint(out, fusion=False)[0]
