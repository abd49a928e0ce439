"""VALOR's audio windows and LAION-CLAP's audio front end, in torch: what a CLAP audio tower
is fed (features.clap encodes with it; the demo CLAP trains on it).

Windows (window_bounds, audio_windows) are VALOR's (utils/clap_preprocess.py): ten windows of a
waveform, starts round(linspace(0, N, 11)), each N // 10 samples.

Preprocessing (model_input) is what laion_clap's CLAP_Module.get_audio_embedding_from_data does to
each window: int16 quantisation, "repeatpad" to 10 s (480,000 samples at 48 kHz), then a log-mel
spectrogram (1024-point Hann STFT, hop 480, 64 mel bins, 50-14,000 Hz,
10 log10(max(power, 1e-10)) dB). Fused models: torchaudio's HTK mel filters without
normalisation, 4 copies stacked (every window is shorter than 10 s, so it is never "longer" and
the fusion branch is not used); unfused models: librosa's Slaney filters, which laion_clap's
in-model torchlibrosa front end uses. log_mel computes this in torch for a batch of windows;
tests/test_clap.py checks it against transformers' ClapFeatureExtractor. That extractor is not
used itself: it is numpy float64 (about 25 ms a window), and with truncation="fusion" it marks
one clip of every batch without a long clip as "longer" at random (laion_clap's training-time
behaviour), which would send that window through the fusion branch; laion_clap at inference,
and so VALOR, never does.

transformers (for its mel filter bank) is imported when the filters are first needed, not with
the module.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

AUDIO_RATE = 48000
SEGMENTS = 10
CLIP_SAMPLES = 480000  # LAION's max_len: 10 s at 48 kHz; each window is repeat-padded to it
N_FFT, HOP, MEL_BINS, F_MIN, F_MAX = 1024, 480, 64, 50.0, 14000.0  # LAION's audio_cfg
AMIN_DB = 1e-10


# ---------------------------------------------------------------- windows (VALOR's arithmetic)
def window_bounds(n_samples: int) -> list[tuple[int, int]]:
    """VALOR's ten windows of a waveform of n_samples (utils/clap_preprocess.py):
    starts np.round(np.linspace(0, N, 11))[:10], each N // 10 samples long.

    For a 10-s clip at 48 kHz these are the ten seconds exactly; for other lengths the windows
    stay equal in length and cover the clip (the last one ends at N or just before it).
    """
    n = int(n_samples)
    if n < SEGMENTS:
        raise ValueError(f"a waveform of {n} samples has no {SEGMENTS} windows")
    starts = np.round(np.linspace(0, n, SEGMENTS + 1)).astype(np.int64)[:SEGMENTS]
    step = n // SEGMENTS
    return [(int(s), int(s) + step) for s in starts]


def audio_windows(waveform: np.ndarray) -> np.ndarray:
    """Mono waveform [N] at AUDIO_RATE -> float32 [10, N // 10], VALOR's windows."""
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"audio_windows takes a mono waveform [N], got shape {wave.shape}")
    return np.stack([wave[a:b] for a, b in window_bounds(len(wave))])


# ---------------------------------------------------------------- preprocessing
def quantise(waves: torch.Tensor) -> torch.Tensor:
    """laion_clap's int16_to_float32(float32_to_int16(x)): clip to [-1, 1], truncate to int16."""
    return (waves.clamp(-1.0, 1.0) * 32767.0).to(torch.int16).to(torch.float32) / 32767.0


def repeat_pad(waves: torch.Tensor, length: int = CLIP_SAMPLES) -> torch.Tensor:
    """LAION's "repeatpad": [B, L] -> [B, length], int(length / L) copies, then zeros."""
    n = waves.shape[-1]
    if n > length:
        raise ValueError(f"windows of {n} samples are longer than CLAP's {length}-sample input")
    tiled = waves.repeat(1, length // n)
    return F.pad(tiled, (0, length - tiled.shape[-1]))


_FILTERS: dict[bool | str, torch.Tensor] = {}  # by fusion, and "torchaudio"


def mel_filters(fusion: bool) -> torch.Tensor:
    """float32 [N_FFT // 2 + 1, 64]: HTK without norm (fused; torchaudio's) or Slaney (unfused;
    librosa's), as transformers' ClapFeatureExtractor builds them."""
    if fusion not in _FILTERS:
        from transformers.audio_utils import mel_filter_bank

        _FILTERS[fusion] = torch.from_numpy(mel_filter_bank(
            num_frequency_bins=N_FFT // 2 + 1, num_mel_filters=MEL_BINS, min_frequency=F_MIN,
            max_frequency=F_MAX, sampling_rate=AUDIO_RATE, norm=None if fusion else "slaney",
            mel_scale="htk" if fusion else "slaney")).float()
    return _FILTERS[fusion]


def torchaudio_filters() -> torch.Tensor:
    """float32 [N_FFT // 2 + 1, 64]: the fused front end's HTK filters computed as torchaudio's
    melscale_fbanks does, in float32 (laion_clap's get_mel, which VALOR's feature maps use).
    They are within 6e-6 of mel_filters(True), computed in float64, which the clap store keeps."""
    if "torchaudio" not in _FILTERS:
        hz = torch.linspace(0, AUDIO_RATE // 2, N_FFT // 2 + 1)
        mel_min, mel_max = (2595.0 * math.log10(1.0 + f / 700.0) for f in (F_MIN, F_MAX))
        points = 700.0 * (10.0 ** (torch.linspace(mel_min, mel_max, MEL_BINS + 2) / 2595.0) - 1.0)
        width, slopes = points[1:] - points[:-1], points[None] - hz[:, None]
        _FILTERS["torchaudio"] = (torch.min(-slopes[:, :-2] / width[:-1], slopes[:, 2:] / width[1:])).clamp_min(0.0)
    return _FILTERS["torchaudio"]


def _power_mel(waves: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """[B, S] -> mel power [B, S // HOP + 1, 64] (centred, reflect-padded Hann STFT)."""
    spec = torch.stft(waves, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
                      window=torch.hann_window(N_FFT, periodic=True, device=waves.device),
                      center=True, pad_mode="reflect", return_complex=True).abs().pow(2)
    return spec.transpose(1, 2) @ filters.to(waves.device)


def log_mel(waves: torch.Tensor, fusion: bool, period: int | None = None,
            filters: torch.Tensor | None = None) -> torch.Tensor:
    """[B, CLIP_SAMPLES] -> float32 [B, 1001, 64] log-mel (dB), LAION's audio front end
    (filters: mel_filters(fusion) unless given).

    period (in samples, a multiple of HOP that divides the length) says that the waveform
    repeats with that period, as a repeat-padded window of a 10-s clip does; then only the
    frames of one period and the edge frames (where the reflect padding is) are computed and
    the rest are copies, which is the same spectrogram at a hundredth of the cost.
    """
    n = waves.shape[-1]
    filters = mel_filters(fusion) if filters is None else filters
    if period is None or period % HOP or n % period or n < 2 * period + 2 * N_FFT:
        power = _power_mel(waves, filters)
    else:
        frames_per_period, half = period // HOP, N_FFT // 2
        first = -(-half // HOP)  # frames before it touch the left reflect padding
        last = (n - half) // HOP  # frames after it touch the right one
        head = _power_mel(waves[:, :(first + frames_per_period) * HOP + half], filters)
        # the frames after `last`, from a frame-aligned tail in which they are past its own edge
        tail = _power_mel(waves[:, (last + 1 - first) * HOP:], filters)[:, first:]
        k = torch.arange(first, last + 1, device=waves.device)
        middle = head[:, first + (k - first) % frames_per_period]
        power = torch.cat([head[:, :first], middle, tail], dim=1)
    return 10.0 * torch.log10(power.clamp_min(AMIN_DB))


def model_input(windows: torch.Tensor, fusion: bool, filters: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """float windows [B, L] -> ClapModel.get_audio_features kwargs (VALOR's preprocessing)."""
    length = windows.shape[-1]
    period = length if CLIP_SAMPLES % length == 0 else None  # repeatpad adds no zeros
    mel = log_mel(repeat_pad(quantise(windows)), fusion, period, filters)[:, None]
    return {"input_features": mel.expand(-1, 4, -1, -1) if fusion else mel,
            "is_longer": torch.zeros(len(windows), 1, dtype=torch.bool, device=windows.device)}
