"""LAION-CLAP's HTSAT feature maps of a clip: VALOR++'s audio input, extracted from videos.

VALOR++ reads the feature maps of CLAP's audio tower over the whole 10-s clip, not one
embedding a segment. Franklin905/VALOR@2677da9 makes them with get_audio_feature_maps
(utils/clap_preprocess.py) and My_CLAP (utils/clap_utils.py), on LAION's 630k-fusion-best.pt:
  1. the clip's waveform at 48 kHz taken by index to 480,000 samples
     (np.round(np.linspace(0, N - 1, 480000)): nearest samples, no filter; valor_clip);
  2. laion_clap's int16 round trip; "fusion" truncation and "repeatpad" filling, neither of
     which changes a clip of exactly 480,000 samples: it is not "longer", its mel is stacked 4
     times (LAION's fused front end: clap_audio.model_input, with torchaudio's float32 mel
     filters, as laion_clap's get_mel computes them);
  3. HTSAT up to its final LayerNorm, its tokens grouped into the frequency x time grid
     (2 x 32 for HTSAT-tiny) and flattened: [64, 768], before the audio projection.
transformers' ClapAudioEncoder does the same grouping (its last_hidden_state, [B, C, 2, 32]);
feature_maps flattens it in VALOR's order. tests/official/valor_clap_official.py transcribes
VALOR's functions; tests/test_clap_maps.py checks this module against them.

The waveform is the configured window (sampling.seconds from start_s, PyAV's resampler to
48 kHz), as for every other feature; VALOR decodes the whole file with librosa and squeezes it
to 480,000 samples (an LLP clip lasts 10.0-10.1 s, so its maps run up to 1% slower in time
than a 10-s window's). The map shape follows the checkpoint's HTSAT (map_shape): VALOR++ needs
64 rows, which HTSAT-tiny's geometry gives (spec 256, patch stride 4, 4 stages) at any width.
An unfused checkpoint gets its own front end (one mel); VALOR's My_CLAP has fusion models only.
"""
from __future__ import annotations

import numpy as np
import torch

from vplan_core.features.clap import check_checkpoint, is_fused, load_clap, weights_label
from vplan_core.features.clap_audio import AUDIO_RATE, CLIP_SAMPLES, model_input, torchaudio_filters


def valor_clip(wave: np.ndarray) -> np.ndarray:
    """A mono waveform [N] at 48 kHz -> float32 [480,000]: VALOR's samples at
    np.round(np.linspace(0, N - 1, 480000)) (the identity for N = 480,000)."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or not len(wave):
        raise ValueError(f"valor_clip takes a non-empty mono waveform [N], got shape {wave.shape}")
    return wave[np.round(np.linspace(0, len(wave) - 1, CLIP_SAMPLES)).astype(np.int64)]


def map_shape(model) -> list[int]:
    """[tokens, channels] of the checkpoint's HTSAT maps: its grid after the last stage
    (spec_size halved per merge, over the patch stride) and the last stage's width."""
    audio = model.config.audio_config
    merges = len(audio.depths) - 1
    stride = audio.patch_stride if isinstance(audio.patch_stride, (list, tuple)) else [audio.patch_stride] * 2
    side = audio.spec_size // 2 ** merges
    return [(side // stride[0]) * (side // stride[1]), int(audio.patch_embeds_hidden_size * 2 ** merges)]


@torch.no_grad()
def feature_maps(model, clips: torch.Tensor) -> torch.Tensor:
    """Clips [B, 480,000] at 48 kHz (float, on the model's device) -> float32 [B, tokens, C],
    VALOR's feature maps. The preprocessing runs in float32, the model in its dtype."""
    fused = is_fused(model)
    inputs = model_input(clips.float(), fused, torchaudio_filters() if fused else None)
    inputs["input_features"] = inputs["input_features"].to(model.dtype)
    grid = model.audio_model(**inputs).last_hidden_state  # [B, C, frequency bins, time]
    return grid.flatten(2).transpose(1, 2).float()


def check_weights(settings: dict, feature: str = "clap_maps") -> list[str]:
    """The configured checkpoint's form, architecture and fusion (features.clap_maps), before any job."""
    return check_checkpoint(settings["checkpoint"], settings.get("fusion"), settings.get("config"), text=False)


def clap_maps_extractor(s: dict, device: str, feature: str = "clap_maps"):
    """features.clap_maps: one [tokens, C] map of the window a video (VALOR++'s audio)."""
    from vplan_core.features.extractor import Extractor, common_needs, common_sampling, place_model

    model, _ = load_clap(s["checkpoint"], s.get("fusion"), s.get("config"), device=device, text=False)
    model = place_model(model, device)
    label, sha = weights_label(str(s["checkpoint"]))
    fused = is_fused(model)

    def prepare(decoded) -> torch.Tensor:
        return torch.from_numpy(valor_clip(decoded.audio[AUDIO_RATE].numpy()))[None].to(device, non_blocking=True)

    def run(clips: torch.Tensor) -> torch.Tensor:
        return feature_maps(model, clips).flatten(0, 1)  # the maps' rows, as extractors return rows

    return Extractor(
        needs=common_needs(s, audio_rate=AUDIO_RATE), prepare=prepare, run=run,
        per_video_shape=lambda: map_shape(model),
        model=f"transformers ClapModel HTSAT feature maps ({'fused' if fused else 'unfused'})", weights=label,
        weights_sha256=sha, device=torch.device(device),
        sampling={**common_sampling(s), "sample_rate": AUDIO_RATE, "downmix": "mean of channels",
                  "clip": "VALOR: samples at round(linspace(0, N - 1, 480000)) of the window",
                  "quantise": "int16", "input": "4 stacked mels (fusion)" if fused else "1 mel",
                  "output": "HTSAT's final LayerNorm, tokens as frequency x time, before the projection"})
