"""Real media files for the tests, written with PyAV.

Every video frame carries a barcode: its index k in binary, one bit per horizontal stripe
(BITS stripes, most significant on top, "on" stripes bright). Stripes span the full width, so
the code survives resizing and the horizontal centre crop of landscape frames, and it survives
H.264/MPEG-4 compression and grayscale. `read_barcode` turns a sampled frame back into k, which
lets tests check *which* frame the sampler picked, not just the shape it returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 9  # up to 512 frames: enough for 14 s at 30 fps
VFR_DURATIONS_MS = (33, 50, 17, 67, 40)  # cycled frame durations of the variable-rate clip


@dataclass(frozen=True)
class Audio:
    """Audio track spec: a sine of `freq_hz` at `amplitude` on every channel; with `tones`, second
    s sounds tones[s] instead (the last tone holds after the list ends). The track starts
    `start_s` after the video's first frame and lasts `seconds` (default: as long as the video),
    as yt-dlp/ffmpeg cuts can leave it; its content's second s sounds at the video's second
    start_s + s."""

    channels: int = 2
    rate: int = 44100
    freq_hz: float = 440.0
    amplitude: float = 0.3
    tones: tuple[float, ...] | None = None
    start_s: float = 0.0
    seconds: float | None = None


_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def barcode_frame(k: int, width: int, height: int, gray: bool = False) -> np.ndarray:
    """Frame k as uint8 [H, W] (gray) or [H, W, 3]: BITS stripes, bit set = bright."""
    rows = np.arange(height) * BITS // height  # stripe index of each row
    bits = (k >> (BITS - 1 - rows)) & 1
    luma = np.where(bits == 1, 230, 25).astype(np.uint8)[:, None].repeat(width, axis=1)
    if gray:
        return luma
    # Colour on top of the code: warm on-stripes, blue-ish off-stripes.
    rgb = np.stack([luma, (luma * 0.8).astype(np.uint8), np.where(bits == 1, 40, 90)
                    .astype(np.uint8)[:, None].repeat(width, axis=1)], axis=-1)
    return rgb


def read_barcode(frame: np.ndarray) -> int:
    """Index k encoded in a (resized, cropped) frame uint8 [H, W, 3] or [H, W]."""
    luma = frame.astype(np.float64)
    if luma.ndim == 3:
        luma = luma[..., 0]
    h = luma.shape[0]
    k = 0
    for j in range(BITS):
        centre = int((j + 0.5) * h / BITS)
        k = (k << 1) | int(luma[centre].mean() > 127)
    return k


def frame_times(seconds: float, fps: float, vfr: bool = False) -> list[float]:
    """Presentation times (s) of the frames write_video writes."""
    if not vfr:
        return [k / fps for k in range(int(round(seconds * fps)))]
    times, t_ms, k = [], 0, 0
    while t_ms < seconds * 1000:
        times.append(t_ms / 1000)
        t_ms += VFR_DURATIONS_MS[k % len(VFR_DURATIONS_MS)]
        k += 1
    return times


def write_video(path: Path, *, seconds: float = 10.0, fps: int | Fraction = 25, width: int = 64,
                height: int = 48, codec: str = "libx264", vfr: bool = False, gray: bool = False,
                audio: Audio | None = None, video: bool = True, faststart: bool = False,
                start_s: float = 0.0) -> list[float]:
    """Write a test clip; returns the frame presentation times in seconds (of the content).

    vfr=True uses millisecond timestamps with irregular frame durations (VFR_DURATIONS_MS);
    gray=True encodes single-channel frames (libx264 pix_fmt gray); video=False writes an
    audio-only file; faststart=True puts the index first, so a truncated copy still opens;
    start_s > 0 gives every stream timestamps from start_s on (a cut that kept its source's
    clock), the same content otherwise.
    """
    path = Path(path)
    options = {"movflags": "faststart"} if faststart else {}
    times = frame_times(seconds, fps, vfr) if video else []
    with av.open(str(path), "w", options=options) as out:
        vstream = astream = None
        if video:
            vstream = out.add_stream(codec, rate=fps)
            vstream.width, vstream.height = width, height
            # 4:2:0 needs even sizes: odd test sizes (161x97) are encoded as 4:4:4.
            odd = width % 2 or height % 2
            vstream.pix_fmt = "gray" if gray else ("yuv444p" if odd else "yuv420p")
            if codec == "libx264":
                vstream.options = {"crf": "12", "preset": "ultrafast"}
            else:
                vstream.options = {"qscale": "2"}
            if vfr:
                vstream.codec_context.time_base = Fraction(1, 1000)
                vstream.time_base = Fraction(1, 1000)
        if audio is not None:
            astream = out.add_stream("aac", rate=audio.rate, layout=_LAYOUTS[audio.channels])
        for k, t in enumerate(times):
            img = barcode_frame(k, width, height, gray)
            frame = av.VideoFrame.from_ndarray(img, format="gray" if gray else "rgb24")
            if vfr:
                frame.pts, frame.time_base = int(round((start_s + t) * 1000)), Fraction(1, 1000)
            else:
                frame.pts = k + int(round(start_s * fps))
            for packet in vstream.encode(frame):
                out.mux(packet)
        if vstream is not None:
            for packet in vstream.encode():
                out.mux(packet)
        if astream is not None:
            _write_audio(out, astream, audio, seconds, start_s)
    return times


def _write_audio(out: av.container.OutputContainer, stream: av.AudioStream, audio: Audio,
                 seconds: float, start_s: float = 0.0) -> None:
    seconds = seconds if audio.seconds is None else audio.seconds
    first = int(round((start_s + audio.start_s) * audio.rate))  # pts of the track's first sample
    n_total, block = int(round(seconds * audio.rate)), 1024
    for start in range(0, n_total, block):
        n = min(block, n_total - start)
        t = (start + np.arange(n)) / audio.rate
        freq = audio.freq_hz if audio.tones is None else \
            np.asarray(audio.tones)[np.minimum(t.astype(int), len(audio.tones) - 1)]
        wave = (audio.amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        data = np.repeat(wave[None], audio.channels, axis=0)
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=_LAYOUTS[audio.channels])
        frame.sample_rate, frame.pts = audio.rate, first + start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_truncated(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    """Copy the first `fraction` of src's bytes: what a killed download leaves behind."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


# The encodings the tests cover: name -> write_video keyword arguments.
CLIPS = {
    "h264_24fps_161x97_mono8k": dict(fps=24, width=161, height=97, audio=Audio(1, 8000)),
    "h264_25fps_stereo44k": dict(fps=25, audio=Audio(2, 44100)),
    "h264_30fps_6ch48k": dict(fps=30, audio=Audio(6, 48000)),
    "h264_vfr_stereo44k": dict(vfr=True, audio=Audio(2, 44100, freq_hz=1000.0)),
    "mpeg4_25fps_noaudio": dict(codec="mpeg4", fps=25),
    "h264_gray_25fps": dict(gray=True, fps=25, audio=Audio(1, 16000)),
    "h264_6s": dict(seconds=6.0, fps=25, audio=Audio(2, 44100)),
    "h264_14s": dict(seconds=14.0, fps=30, audio=Audio(2, 44100)),
}


def write_clips(directory: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write CLIPS (or the named subset) as <name>.mp4 into directory."""
    directory = Path(directory)
    paths = {}
    for name in names or list(CLIPS):
        paths[name] = directory / f"{name}.mp4"
        write_video(paths[name], **CLIPS[name])
    return paths


def write_broken(directory: Path) -> dict[str, Path]:
    """Files that are not usable videos, by the problem they have."""
    directory = Path(directory)
    good = directory / "_source.mp4"
    write_video(good, seconds=4.0, audio=Audio(2, 44100))
    good_faststart = directory / "_source_faststart.mp4"
    write_video(good_faststart, seconds=4.0, faststart=True)
    paths = {
        "zero_bytes": directory / "zero_bytes.mp4",
        "random_bytes": directory / "random_bytes.mp4",
        "truncated": write_truncated(good, directory / "truncated.mp4"),
        "truncated_faststart": write_truncated(good_faststart,
                                               directory / "truncated_faststart.mp4"),
        "audio_only": directory / "audio_only.mp4",
    }
    paths["zero_bytes"].write_bytes(b"")
    paths["random_bytes"].write_bytes(np.random.default_rng(0).bytes(4096))
    write_video(paths["audio_only"], video=False, seconds=2.0, audio=Audio(2, 44100))
    good.unlink()
    good_faststart.unlink()
    return paths


# Bad and odd inputs of `vplan parse` (tests/test_corpus.py): name -> write_video keyword
# arguments. Small frames and low rates keep the whole corpus a few MB and quick to extract.
_SMALL = dict(fps=8, width=32, height=24)
CORPUS_CLIPS = {
    "half_second": dict(_SMALL, seconds=0.5, audio=Audio(1, 16000)),
    "sixty_seconds": dict(_SMALL, seconds=60.0, fps=4, audio=Audio(1, 16000)),
    "variable_rate": dict(width=32, height=24, seconds=3.0, vfr=True, audio=Audio(2, 44100)),
    "portrait": dict(_SMALL, seconds=3.0, width=24, height=40, audio=Audio(2, 44100)),
    "surround_48k": dict(_SMALL, seconds=3.0, audio=Audio(6, 48000)),
    "mono_8k": dict(_SMALL, seconds=3.0, audio=Audio(1, 8000)),
    "odd_97x61": dict(_SMALL, seconds=3.0, width=97, height=61, audio=Audio(1, 16000)),
    "no_audio": dict(_SMALL, seconds=3.0),
    "no_video": dict(seconds=3.0, video=False, audio=Audio(1, 16000)),
}
NON_ASCII_NAME = "fête_ü_音.mp4"


def write_corpus(directory: Path) -> dict[str, Path]:
    """CORPUS_CLIPS as <name>.mp4, a 3-s clip under a non-ASCII name ("non_ascii"), and the
    broken files: "zero_bytes", "text" (a text file named .mp4) and two truncated copies of a
    4-s clip ("truncated": index at the end; "truncated_faststart": index first)."""
    directory = Path(directory)
    paths = {}
    for name, spec in CORPUS_CLIPS.items():
        paths[name] = directory / f"{name}.mp4"
        write_video(paths[name], **spec)
    paths["non_ascii"] = directory / NON_ASCII_NAME
    write_video(paths["non_ascii"], **_SMALL, seconds=3.0, audio=Audio(2, 44100))
    paths["zero_bytes"] = directory / "zero_bytes.mp4"
    paths["zero_bytes"].write_bytes(b"")
    paths["text"] = directory / "text.mp4"
    paths["text"].write_text("This is a text file, not a video.\n")
    for name, faststart in (("truncated", False), ("truncated_faststart", True)):
        source = directory / f"_{name}_source.mp4"
        write_video(source, **_SMALL, seconds=4.0, audio=Audio(1, 16000), faststart=faststart)
        paths[name] = write_truncated(source, directory / f"{name}.mp4")
        source.unlink()
    return paths
