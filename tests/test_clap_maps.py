"""CLAP feature maps (features/clap_maps.py, VALOR++'s audio) against a verbatim transcription of
VALOR's get_audio_feature_maps (tests/official/valor_clap_official.py), on LAION-CLAP files in the
published layout with seeded random weights: tests/data/laion_clap/fused.pt (written by
laion_clap's own code) and one of HTSAT-tiny's geometry (64 map rows) written here; the one-pass
extraction on a real mp4; the plan's producer of the clap_maps store."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from tests.media import Audio, write_video
from tests.official import valor_clap_official as official
from tests.workflow_runs import REPO
from vplan_core.data.manifest import make_record
from vplan_core.data.video import sample_audio
from vplan_core.feature_store import open_store
from vplan_core.features import clap, clap_checkpoints, clap_maps
from vplan_core.features.extract import extract_shard
from vplan_core.plan import feature_sources

LAION = Path(__file__).parent / "data" / "laion_clap"
# laion_clap's audio_cfg of the 630k models (model_configs/HTSAT-tiny.json), as My_CLAP reads it
AUDIO_CFG = {"audio_length": 1024, "clip_samples": 480000, "mel_bins": 64, "sample_rate": 48000,
             "window_size": 1024, "hop_size": 480, "fmin": 50, "fmax": 14000, "class_num": 527,
             "model_type": "HTSAT", "model_name": "tiny"}
# HTSAT-tiny's geometry (spec 256, patch stride 4, 4 stages: an 8 x 8 grid, 64 map rows) at a
# width of 8 -> 64 channels; the text tower of tests/data/laion_clap's files
TINY_HTSAT = {"spec_size": 256, "patch_size": 4, "patch_stride": [4, 4], "patch_embeds_hidden_size": 8,
              "depths": [1, 1, 1, 1], "num_attention_heads": [1, 1, 2, 2], "window_size": 8, "hidden_size": 64}


def write_laion_clap(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """(checkpoint, config.json): a fused LAION-CLAP of HTSAT-tiny's geometry with seeded random
    weights (batch-norm statistics off their init), saved in LAION's published form."""
    from transformers import ClapConfig, ClapModel

    config = json.loads((LAION / "config_fused.json").read_text())
    config["audio_config"].update(TINY_HTSAT)
    torch.manual_seed(seed)
    model = ClapModel(ClapConfig.from_dict(config)).eval()
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith(("running_mean", "running_var")):
                buffer.uniform_(0.5, 1.5)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint, config_file = folder / "630k-tiny-fusion.pt", folder / "config.json"
    laion = clap_checkpoints.hf_to_laion(model.state_dict())
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in laion.items()}}, checkpoint)
    config_file.write_text(json.dumps(config))
    return checkpoint, config_file


class _Stage(nn.Module):
    """A laion_clap BasicLayer's call, layer(x) -> (x, attn), over a ClapAudioStage."""

    def __init__(self, stage: nn.Module, resolution: tuple[int, int]):
        super().__init__()
        self.stage, self.resolution = stage, resolution

    def forward(self, x):
        return self.stage(x, self.resolution)[0], None


class _PatchEmbed(nn.Module):
    """laion_clap's PatchEmbed call, patch_embed(x, longer_idx=...), over ClapAudioPatchEmbed."""

    def __init__(self, embed: nn.Module):
        super().__init__()
        self.embed = embed

    def forward(self, x, longer_idx=None):
        return self.embed(x, longer_idx)


class _HTSAT(nn.Module):
    """laion_clap's HTSAT_Swin_Transformer as My_CLAP reads it, over the ClapAudioEncoder the
    project loads from the same file (its modules: the weights laion_clap would load).
    reshape_wav2img is transformers' reshape_mel2img, the same reshaping; tscam_conv feeds
    only My_CLAP's framewise output, not the maps (seeded)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.enable_fusion, self.depths, self.freq_ratio = encoder.enable_fusion, encoder.depths, encoder.freq_ratio
        self.patch_stride, self.ape = encoder.patch_stride, False
        self.bn0, self.norm, self.avgpool = encoder.batch_norm, encoder.norm, encoder.avgpool
        self.patch_embed = _PatchEmbed(encoder.patch_embed)
        self.reshape_wav2img, self.pos_drop = encoder.reshape_mel2img, nn.Identity()
        self.layers = nn.ModuleList(_Stage(s, r) for s, r in zip(encoder.layers, encoder.input_resolutions))
        side = encoder.spec_size // 2 ** (len(encoder.depths) - 1) // self.patch_stride[0]
        torch.manual_seed(0)
        self.tscam_conv = nn.Conv2d(encoder.num_features, 10, kernel_size=(side // self.freq_ratio, 3), padding=(0, 1))


def official_maps(model, wave: np.ndarray, tmp_path: Path) -> np.ndarray:
    """VALOR's get_audio_feature_maps of a clip whose loaded waveform (librosa.load) is `wave`."""
    laion = type("CLAP_Module", (), {})()
    laion.model = nn.Module()
    laion.model.audio_branch = _HTSAT(model.audio_model.audio_encoder)
    laion.model_cfg = {"audio_cfg": AUDIO_CFG}
    official.librosa.load = lambda path, sr: (wave, sr)
    my_model = official.My_CLAP(laion, torch.device("cpu"))
    official.get_audio_feature_maps(my_model, [{"video_name": ["abcdefghijk"]}], str(tmp_path), str(tmp_path / "maps"), False)
    return np.load(tmp_path / "maps/abcdefghijk.npy")


def test_valor_clip_takes_valors_samples():
    wave = np.arange(481440, dtype=np.float32)
    np.testing.assert_array_equal(clap_maps.valor_clip(wave), np.round(np.linspace(0, 481439, 480000)))
    np.testing.assert_array_equal(clap_maps.valor_clip(wave[:480000]), wave[:480000])
    with pytest.raises(ValueError, match="mono waveform"):
        clap_maps.valor_clip(np.zeros((2, 480000), np.float32))


def test_torchaudios_filters_are_the_fused_ones_in_float32():
    """VALOR's get_mel (torchaudio) computes the HTK filters in float32: 5.6e-6 off the float64
    ones of the clap store, enough to move the maps by 1e-5 (the test below fails with those)."""
    from vplan_core.features.clap_audio import mel_filters, torchaudio_filters

    assert 0 < float((torchaudio_filters() - mel_filters(True)).abs().max()) < 6e-6


@pytest.mark.parametrize("n", [480000, 481440, 441000])  # 10 s; an LLP clip's 10.03 s; 9.19 s
def test_maps_equal_valors_on_laion_claps_own_file(n, tmp_path):
    """fused.pt (laion_clap's code wrote it): VALOR's maps of a waveform of n samples."""
    model, tokenizer = clap.load_clap(LAION / "fused.pt", True, str(LAION / "config_fused.json"), text=False)
    assert tokenizer is None
    rng = np.random.default_rng(n)
    t = np.arange(n) / 48000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    ours = clap_maps.feature_maps(model, torch.from_numpy(clap_maps.valor_clip(wave))[None])[0].numpy()
    reference = official_maps(model, wave, tmp_path)
    assert ours.shape == reference.shape == tuple(clap_maps.map_shape(model)) == (256, 16)
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


def test_extraction_writes_valors_maps_of_a_real_mp4(tmp_path):
    """The one-pass extraction of clap_maps beside VGGish, with a LAION file of HTSAT-tiny's
    geometry: [64, 64] maps equal to VALOR's function on the same decoded waveform."""
    checkpoint, config_file = write_laion_clap(tmp_path / "clap")
    assert clap_maps.check_weights({"checkpoint": str(checkpoint), "fusion": True, "config": str(config_file)}) == []
    video = tmp_path / "v.mp4"
    write_video(video, seconds=10.0, fps=8, width=32, height=32,
                audio=Audio(2, 44100, tones=(300.0, 900.0, 1500.0, 2100.0, 700.0), amplitude=0.4))
    records = [make_record("v", str(video), "used", has_audio=True)]
    settings = {"clap_maps": {"checkpoint": str(checkpoint), "fusion": True, "config": str(config_file), "seconds": 10},
                "vggish": {"weights": "random:0", "audio_rate": 16000, "seconds": 10}}
    stores = {name: tmp_path / f"{name}.zarr" for name in settings}
    summary = extract_shard(settings, records, stores)
    maps, attrs = open_store(stores["clap_maps"])
    assert summary["clap_maps"]["shape"] == [64, 64] and attrs["weights_sha256"]
    model, _ = clap.load_clap(checkpoint, True, str(config_file), text=False)
    reference = official_maps(model, sample_audio(video, 48000, 10.0), tmp_path)
    np.testing.assert_allclose(np.asarray(maps)[0], reference, atol=1e-5, rtol=0)


def test_a_checkpoint_without_a_tokenizer_is_fine_for_maps_only(tmp_path):
    checkpoint, config_file = write_laion_clap(tmp_path)
    assert clap.check_checkpoint(checkpoint, True, str(config_file), text=False) == []
    assert "tokenizer" in clap.check_checkpoint(checkpoint, True, str(config_file))[0]


def _valor_plus_plus_config(tmp_path: Path, **dataset) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    llp = yaml.safe_load((REPO / "config/llp.yaml").read_text())
    config["models"]["valor_plus_plus"] = llp["models"]["valor_plus_plus"] | {"rows": ["valor_plg"]}
    config["train"]["models"] = ["han", "valor_plus_plus"]
    config["features"]["clap_maps"] = {"checkpoint": str(tmp_path / "clap.pt")}
    config["dataset"].update(dataset)
    return config


def test_the_plan_extracts_clap_maps_from_videos_and_imports_a_release(tmp_path):
    demo = feature_sources(yaml.safe_load((REPO / "config.yaml").read_text()))
    assert "clap_maps" not in demo.features  # the demo trains no parser that reads them
    videos = feature_sources(_valor_plus_plus_config(tmp_path))
    assert "clap_maps" in videos.extracted and videos.producer("clap_maps") == "extract_features"
    release = _valor_plus_plus_config(tmp_path, clap_feature_maps=str(tmp_path))
    assert feature_sources(release).producer("clap_maps") == "import_feature_maps"
    release["features"]["clap_maps"]["source"] = "videos"
    assert feature_sources(release).producer("clap_maps") == "extract_features"
    del release["features"]["clap_maps"]
    with pytest.raises(ValueError, match="features.clap_maps, which is not set"):
        feature_sources({**release, "dataset": {k: v for k, v in release["dataset"].items() if k != "clap_feature_maps"}})
