"""The extraction inputs as vplan computed them before the one-pass extraction (commit f890ecb):
each feature decoded the video itself and resized frames with PIL, one frame at a time. Kept
verbatim (data/video.py resize_crop and sample_frames, clip.encode_images' preprocess) as the
reference tests/test_extraction_pass.py measures the new path against."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from vplan_core.data.video import decode_frames, llp_frame_times, sample_audio, segment_middle_times
from vplan_core.features import vggish
from vplan_core.features.clap_audio import AUDIO_RATE, audio_windows


def resize_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """Shorter side to `size` (bilinear, antialiased), then centre crop: uint8 [size, size, 3]."""
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    h, w = frame.shape[:2]
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    img = Image.fromarray(frame)
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return np.asarray(img.crop((left, top, left + size, top + size)))


def sample_frames(path, times, size: int) -> np.ndarray:
    return np.stack([resize_crop(f, size) for f in decode_frames(path, times)])


def cnn2d_frames(path, size: int) -> np.ndarray:
    return sample_frames(path, llp_frame_times(), size)


def r2plus1d_clips(path, size: int, clip_len: int = 8) -> np.ndarray:
    frames = sample_frames(path, llp_frame_times(), size)
    return frames.reshape(-1, clip_len, *frames.shape[1:])


def clip_images(path, size: int, preprocess) -> torch.Tensor:
    """open_clip's own (PIL) preprocess of the resized middle frames: [10, 3, S, S]."""
    return torch.stack([preprocess(Image.fromarray(f)) for f in sample_frames(path, segment_middle_times(), size)])


def vggish_examples(path) -> torch.Tensor:
    return vggish.waveform_to_examples(sample_audio(path, vggish.SAMPLE_RATE))


def clap_windows(path) -> np.ndarray:
    return audio_windows(sample_audio(path, AUDIO_RATE))
