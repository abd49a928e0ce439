"""VGGish in torch: the reference log-mel front end, the VGG body and the PCA postprocessor.

Parameter names follow torchvggish (features.*, embeddings.0/2/4), so its published
vggish-10086976.pth loads as is; the PCA file (vggish_pca_params-970ea276.pth, or Google's
vggish_pca_params.npz) holds "pca_eigen_vectors" [128, 128] and "pca_means" [128].
The front end re-implements the reference vggish_input / mel_features in numpy (periodic
Hann window, FFT length the next power of two, HTK mel scale, no DC bin), because the features
the model was trained on depend on these exact choices.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from .decoding import Decoded
from .extractor import Extractor, common_needs, common_sampling, place_model, torch_runner
from vplan_core.feature_registry import FEATURES, VGGISH_PCA_URL, VGGISH_WEIGHTS_URL
from .weights import apply_weights, load_state_dict_file, sha256_file

SAMPLE_RATE = 16000
WINDOW_S, HOP_S = 0.025, 0.010
NUM_MEL_BANDS, MEL_MIN_HZ, MEL_MAX_HZ = 64, 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames
EMBEDDING_SIZE = 128
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0


# ---------------------------------------------------------------- front end
def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, as the reference."""
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_matrix(num_spectrogram_bins: int, sample_rate: int = SAMPLE_RATE,
               num_bands: int = NUM_MEL_BANDS, low_hz: float = MEL_MIN_HZ,
               high_hz: float = MEL_MAX_HZ) -> np.ndarray:
    """[bins, bands] triangular weights, linear in mel; the DC bin gets no weight (HTK)."""
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins))
    edges = np.linspace(hertz_to_mel(low_hz), hertz_to_mel(high_hz), num_bands + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def band_centres_hz(num_bands: int = NUM_MEL_BANDS, low_hz: float = MEL_MIN_HZ,
                    high_hz: float = MEL_MAX_HZ) -> np.ndarray:
    """Centre frequency of each mel band (inverse HTK formula)."""
    mels = np.linspace(hertz_to_mel(low_hz), hertz_to_mel(high_hz), num_bands + 2)[1:-1]
    return 700.0 * (np.exp(mels / 1127.0) - 1.0)


def log_mel_spectrogram(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[frames, 64] log(mel magnitude + 0.01) with 25 ms windows every 10 ms, no padding."""
    window = int(round(sample_rate * WINDOW_S))
    hop = int(round(sample_rate * HOP_S))
    fft_length = 2 ** int(np.ceil(np.log2(window)))
    wave = np.asarray(wave, dtype=np.float64)
    num_frames = 1 + (len(wave) - window) // hop
    if num_frames < 1:
        return np.zeros((0, NUM_MEL_BANDS))
    frames = np.lib.stride_tricks.sliding_window_view(wave, window)[::hop][:num_frames]
    periodic_hann = 0.5 - 0.5 * np.cos(2 * np.pi / window * np.arange(window))
    magnitude = np.abs(np.fft.rfft(frames * periodic_hann, fft_length))
    mel = magnitude @ mel_matrix(magnitude.shape[1], sample_rate)
    return np.log(mel + LOG_OFFSET)


def waveform_to_examples(wave: np.ndarray, sample_rate: int = SAMPLE_RATE,
                         num_examples: int = 10, example_hop_s: float = 1.0) -> torch.Tensor:
    """float32 [num_examples, 1, 96, 64]: example i covers [i * hop, i * hop + 0.96 s).

    The default hop of 1.0 s gives one example per one-second LLP segment (the reference
    streams examples every 0.96 s; pass example_hop_s=0.96 to match it). The waveform is
    zero-padded or cut to exactly what num_examples need, so a short clip still yields
    num_examples rows. Resampling belongs to decoding (video.sample_audio), so only
    16 kHz input is accepted.
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"VGGish needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz: "
                         f"decode with video.sample_audio(sample_rate={SAMPLE_RATE})")
    hop_frames = int(round(example_hop_s / HOP_S))
    frames_needed = (num_examples - 1) * hop_frames + EXAMPLE_FRAMES
    window, hop = int(round(SAMPLE_RATE * WINDOW_S)), int(round(SAMPLE_RATE * HOP_S))
    samples_needed = (frames_needed - 1) * hop + window
    wave = np.asarray(wave, dtype=np.float64)[:samples_needed]
    wave = np.pad(wave, (0, samples_needed - len(wave)))
    log_mel = log_mel_spectrogram(wave)
    starts = np.arange(num_examples) * hop_frames
    examples = np.stack([log_mel[s:s + EXAMPLE_FRAMES] for s in starts])
    return torch.from_numpy(examples.astype(np.float32))[:, None]


# ---------------------------------------------------------------- model
def _vgg_layers() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1), nn.ReLU(True)]
            channels = int(v)
    return nn.Sequential(*layers)


class VGGish(nn.Module):
    """[B, 1, 96, 64] log-mel examples -> [B, 128] embeddings (torchvggish's VGG)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _vgg_layers()
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True),
            nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, EMBEDDING_SIZE), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # [B, 512, 6, 4] -> [B, 6, 4, 512]: the TF checkpoint flattened channels last.
        x = x.permute(0, 2, 3, 1).contiguous()
        return self.embeddings(x.flatten(1))


class Postprocessor(nn.Module):
    """PCA (with whitening) and 8-bit quantisation of the released AudioSet embeddings.

    Output values are the quantised levels 0..255 as float32, like torchvggish.
    """

    def __init__(self, pca_matrix: torch.Tensor, pca_means: torch.Tensor) -> None:
        super().__init__()
        if pca_matrix.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE) or pca_means.numel() != 128:
            raise ValueError(f"bad PCA shapes {tuple(pca_matrix.shape)}, "
                             f"{tuple(pca_means.shape)}; expected (128, 128) and (128,)")
        self.register_buffer("pca_matrix", pca_matrix.float())
        self.register_buffer("pca_means", pca_means.float().reshape(-1, 1))

    @classmethod
    def from_file(cls, path: str | os.PathLike, config_key: str) -> "Postprocessor":
        params = load_state_dict_file(path, config_key, VGGISH_PCA_URL)
        try:
            return cls(params["pca_eigen_vectors"], params["pca_means"])
        except KeyError as exc:
            raise ValueError(f"config key '{config_key}' ({path}): PCA file lacks {exc}; "
                             f"expected keys pca_eigen_vectors, pca_means") from exc

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        pca = (self.pca_matrix @ (embeddings.T - self.pca_means)).T
        clipped = pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))


def vggish_extractor(s: dict, device: str, feature: str = "vggish") -> Extractor:
    """features.vggish: one 128-d embedding a second (16 kHz), PCA-postprocessed when `pca`."""
    if s.get("audio_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise ValueError(f"VGGish needs audio_rate {SAMPLE_RATE}, got {s['audio_rate']}")
    model = VGGish()
    label, sha = apply_weights(model, s["weights"], "features.vggish.weights", VGGISH_WEIGHTS_URL)
    model = place_model(model, device, channels_last="2d")
    post = None
    if s.get("pca", False):
        if not s.get("pca_params"):
            raise ValueError("features.vggish.pca is true but features.vggish.pca_params is "
                             f"not set (published at {VGGISH_PCA_URL})")
        # float32 whatever the device: it quantises to 0..255, which bfloat16 would round
        post = Postprocessor.from_file(s["pca_params"], "features.vggish.pca_params").to(device)
        sha = f"{sha} pca:{sha256_file(s['pca_params'])}"
    embed = torch_runner(model)

    def run(examples: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return embed(examples) if post is None else post(embed(examples))

    seconds, hop_s = s.get("seconds", 10), s.get("example_hop_s", 1.0)

    def prepare(decoded: Decoded) -> torch.Tensor:
        """The reference front end (numpy, on the CPU), then the examples onto the device."""
        wave = decoded.audio[SAMPLE_RATE].numpy()
        return waveform_to_examples(wave, SAMPLE_RATE, int(round(seconds)), hop_s).to(device, non_blocking=True)

    return Extractor(
        needs=common_needs(s, audio_rate=SAMPLE_RATE), prepare=prepare, run=run,
        per_video_shape=lambda: [int(round(seconds)), EMBEDDING_SIZE],
        model="vggish" + ("+pca" if s.get("pca", False) else ""), weights=label,
        weights_sha256=sha, device=torch.device(device),
        sampling={**common_sampling(s), "sample_rate": SAMPLE_RATE,
                  "downmix": "mean of channels", "example_hop_s": hop_s, **FEATURES["vggish"].provenance})
