"""What each demo class sounds like, and the soundtrack of a demo clip.

Every class has its own spectral pattern: one of five sound kinds (harmonic stack, noise band,
chirp train, tone pulses, amplitude-modulated dyad), a class-specific base frequency (25 steps of
about two semitones, 180-2800 Hz, permuted so that classes of one kind lie far apart) and a
class-specific modulation rate. Everything lies inside VGGish's 125-7500 Hz mel range, so even
an untrained log-mel front end separates the classes.
"""
from __future__ import annotations

import numpy as np

from vplan_core.data.description import LLP

CLASSES = LLP.classes  # the demo world is a miniature LLP

KINDS = ("harmonic", "noise", "chirp", "pulses", "am")
RATES_HZ = (1.5, 2.5, 4.0, 6.0, 9.0)
BASE_FREQS_HZ = np.geomspace(180.0, 2800.0, len(CLASSES))
EVENT_RMS = 0.1  # before the per-event gain of the scenario (0.6-1.0)
NOISE_RMS = 0.004  # white background noise: low, but no segment is digital silence
RAMP_S = 0.01  # fade in/out, so event edges do not click across the whole spectrum
DURATION_S = 10


def sound_params(class_index: int) -> tuple[str, float, float]:
    """(kind, base frequency Hz, modulation rate Hz) of a class."""
    return (KINDS[class_index % len(KINDS)], float(BASE_FREQS_HZ[(7 * class_index) % len(CLASSES)]),
            RATES_HZ[class_index // len(KINDS)])


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum[(freqs < lo) | (freqs > hi)] = 0
    return np.fft.irfft(spectrum, n)


def class_sound(class_index: int, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of a class's sound at unit RMS (float64)."""
    kind, f0, rate = sound_params(class_index)
    t = np.arange(n) / sr
    nyquist = sr / 2 - 200
    if kind == "harmonic":
        x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
                for k in range(1, 8) if k * f0 < nyquist)
        x = x * (1 + 0.3 * np.sin(2 * np.pi * rate * t))
    elif kind == "noise":
        x = _band_noise(rng, n, sr, 1.5 * f0, min(2.2 * f0, nyquist))
        x = x * (1 + 0.6 * np.sin(2 * np.pi * rate * t))
    elif kind == "chirp":  # sweeps f0 -> 2 f0, one per modulation period
        period = 1.0 / rate
        tau = t % period
        phase = 2 * np.pi * f0 * period / np.log(2) * (2 ** (tau / period) - 1)
        x = np.sin(phase) + 0.3 * np.sin(2 * phase)
    elif kind == "pulses":  # decaying bursts, like bounces or claps
        tau = t % (1.0 / rate)
        burst = np.sin(2 * np.pi * f0 * t) + 0.5 * _band_noise(rng, n, sr, f0, min(3 * f0, nyquist))
        x = np.exp(-tau / 0.04) * burst
    else:  # "am": a fifth, strongly amplitude modulated
        x = (np.sin(2 * np.pi * f0 * t) + 0.6 * np.sin(2 * np.pi * 1.5 * f0 * t)) \
            * (0.55 + 0.45 * np.sin(2 * np.pi * rate * t))
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


def render_audio(scenario: dict, sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 [10 * sample_rate] in [-1, 1]: each class sounds during its audio span only."""
    n = DURATION_S * sample_rate
    rng = np.random.default_rng(scenario["render"]["audio_seed"])
    audio = NOISE_RMS * rng.standard_normal(n)
    ramp = max(1, int(RAMP_S * sample_rate))
    for event in scenario["events"]:
        if event["audio"] is None:
            continue
        a, b = (s * sample_rate for s in event["audio"])
        env = np.ones(b - a)
        env[:ramp] = np.linspace(0, 1, ramp)
        env[-ramp:] = np.linspace(1, 0, ramp)
        gain = EVENT_RMS * scenario["render"]["gains"][event["class"]]
        audio[a:b] += gain * env * class_sound(CLASSES.index(event["class"]), b - a, sample_rate, rng)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)
