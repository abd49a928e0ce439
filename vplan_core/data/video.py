"""Decoding and LLP sampling of raw videos: decord first, PyAV as the fallback.

Conventions (shared by every extractor, recorded in each store's `sampling` attrs):
- Times are seconds from the video stream's start (its first frame; decord counts from it too),
  one clock for frames and audio: each stream is decoded from its own start time and placed on
  it by its timestamps, so a file whose streams start at 100 s (a cut that kept its source's
  clock) reads as one that starts at 0, and audio that starts late or ends early leaves a gap
  where it has no samples. The analysed window is [start_s, start_s + seconds) (default the
  first 10 s, as LLP clips are 10 s).
- Frame at time t = the frame on screen at t: the last frame whose presentation timestamp
  is <= t (timestamps, never index/fps, so variable frame rates sample correctly). Times before
  the first frame take the first frame, times after the last take the last one.
- LLP frame times (8 fps, 80 frames): t_i = start_s + (i + 0.5) / fps, the middle of each
  1/fps slot. Midpoints never coincide with a frame boundary of 24/25/30 fps material, so the
  choice of frame is not decided by float rounding.
- CLIP (one frame per one-second segment): t = start_s + s + 0.5, the segment's middle frame.
- Frames are decoded here as uint8 RGB at their own size, or, when a caller names the size it
  needs (`short_side`) and the frame's shorter side is more than twice that, reduced right after
  decoding to twice that size (frames.reduce_frames): a 4K video holds 80 small frames per
  window, not 80 of 4K. data/frames.py resizes and crops them to each model's size.
- Audio is decoded with PyAV only: decord 0.6.0's AudioReader slips samples (a 2 ms shift
  appeared within the first second of an 8 kHz clip) and returns garbage for more than one
  channel, both measured on PyAV-written AAC. Channels are averaged to mono, as the reference
  VGGish input code does (np.mean over channels).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .frames import reduce_frames

DECODERS = ("auto", "decord", "pyav")
_EPS_S = 1e-6  # timestamps are floats: a time exactly on a frame start selects that frame
# Decodable frames ending this much before the stream's declared duration mean lost data.
_TRUNCATION_TOLERANCE_S = 0.5
# decord prefixes errors with "[hh:mm:ss] /build/path/file.cc:123: ": noise in a manifest.
_DECORD_LOG_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ")
_MAX_DETAIL = 300


class VideoError(ValueError):
    """A video that cannot be used; `reason` is a short category for manifests and skips.

    A ValueError (a bad input, not a bug): the command line reports it as one line, exit 2.
    """

    def __init__(self, path: str | os.PathLike, reason: str, detail: str = "") -> None:
        detail = _DECORD_LOG_PREFIX.sub("", " ".join(detail.split()))
        self.path, self.reason, self.detail = str(path), reason, detail[:_MAX_DETAIL]
        super().__init__(f"{self.path}: {reason}" + (f" ({self.detail})" if self.detail else ""))

    @property
    def summary(self) -> str:
        """"reason" or "reason: detail", the form manifests and store skips record."""
        return self.reason + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class VideoInfo:
    """What probe() learned about a file; `decoder` is the one that read its frames."""

    duration_s: float
    fps: float
    width: int
    height: int
    num_frames: int
    has_audio: bool
    audio_rate: int
    audio_channels: int
    decoder: str
    audio_start_s: float = 0.0  # the audio's first and last sample time on the clock (its packets)
    audio_end_s: float = 0.0


# ---------------------------------------------------------------- sampling rules
def llp_frame_times(fps: float = 8, seconds: float = 10, start_s: float = 0.0) -> np.ndarray:
    """The fps*seconds frame times of the official 2D/3D features: slot midpoints."""
    n = int(round(fps * seconds))
    return start_s + (np.arange(n) + 0.5) / fps


def segment_middle_times(seconds: int = 10, start_s: float = 0.0) -> np.ndarray:
    """One time per one-second segment, its middle (the PLG frame for CLIP)."""
    return start_s + np.arange(int(seconds)) + 0.5


def check_usable(info: VideoInfo, min_duration_s: float = 9.0, min_audio_s: float = 9.0,
                 seconds: float = 10.0) -> str | None:
    """Skip reason for a probed clip, or None when it is used.

    LLP clips are 10 s but some downloads are shorter. A clip under `min_duration_s` is skipped
    ("too short"); a clip between that and the window length is used, its late frame times
    clamp to the last frame and its audio is zero-padded (sample_frames / sample_audio). A clip
    whose audio covers too little of its window is skipped too (check_audio).
    """
    if info.duration_s < min_duration_s:
        return f"too short: {info.duration_s:.2f} s < {min_duration_s:g} s"
    return check_audio(info, 0.0, seconds, min_audio_s)


def audio_coverage(info: VideoInfo, start_s: float, seconds: float) -> tuple[float, float]:
    """(seconds of the window [start_s, start_s + seconds) that have frames and audio, seconds
    that have frames): their difference is the silence the decoder pads in."""
    video_end = min(start_s + seconds, info.duration_s)
    covered = min(info.audio_end_s, video_end) - max(info.audio_start_s, start_s)
    return max(covered, 0.0) if info.has_audio else 0.0, max(video_end - start_s, 0.0)


def check_audio(info: VideoInfo, start_s: float, seconds: float, min_audio_s: float) -> str | None:
    """Skip reason when the audio leaves more of the window's video without sound than a
    window of `seconds` may lack (seconds - min_audio_s, 1 of 10 s by default): audio that ends
    early or starts late would be read as silence. A window the video does not fill (a clip
    shorter than 10 s, the last window in `vplan parse`) needs that much less. None otherwise,
    and for a video without audio (the audio features skip it: "no audio stream")."""
    if not info.has_audio:
        return None
    covered, video = audio_coverage(info, start_s, seconds)
    needed = video - (seconds - min_audio_s)
    if covered < needed - _EPS_S:
        return (f"audio coverage: {covered:.2f} s of the {video:.2f} s of video in "
                f"[{start_s:g}, {start_s + seconds:g}) s (needs {max(needed, 0.0):.2f} s)")
    return None


def padding_note(info: VideoInfo, seconds: float = 10.0) -> str:
    """"audio padded: 0.40 s" when the audio leaves part of the window's video silent (a used
    clip's manifest reason), "" when it covers it to the hundredth of a second."""
    covered, video = audio_coverage(info, 0.0, seconds)
    return f"audio padded: {video - covered:.2f} s" if info.has_audio and video - covered >= 0.005 else ""


# ---------------------------------------------------------------- probing
def _ffmpeg_message(exc: Exception) -> str:
    """FFmpeg's own words ("Invalid data found when processing input"), without the errno and
    the file name PyAV adds: VideoError's message names the file once."""
    return getattr(exc, "strerror", None) or str(exc)


def _decord():
    """decord, with its FFmpeg log silenced: it writes demuxer errors ("partial file") straight
    to stderr, and they reach callers anyway, as exceptions and then VideoErrors."""
    import decord

    decord.logging.set_level(decord.logging.QUIET)
    return decord


def _open_container(path: Path) -> av.container.InputContainer:
    if path.is_dir():
        raise VideoError(path, "a folder, not a video file")
    if not path.is_file():
        raise VideoError(path, "missing file")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file", "0 bytes")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(path, "unreadable", _ffmpeg_message(exc)) from exc


def _origin_s(container: av.container.InputContainer) -> float:
    """The clock's zero in the file's own timestamps: the video stream's start time (decord's
    frame times count from it), 0 when a file does not declare one."""
    video = container.streams.video[0] if container.streams.video else None
    return float(video.start_time * video.time_base) if video is not None and video.start_time is not None else 0.0


def _audio_span(container: av.container.InputContainer, origin_s: float) -> tuple[float, float]:
    """First and end time of the audio on the clock, from its packets' timestamps (demuxed,
    not decoded): the encoder's padding past the last sample is not counted. Damaged data ends
    the span where it starts (the frames' check then names a truncated file)."""
    stream = container.streams.audio[0]
    first = end = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = float(packet.pts * stream.time_base)
            first = start if first is None else min(first, start)
            end = max(end or start, start + float((packet.duration or 0) * stream.time_base))
    except av.error.FFmpegError:
        pass
    return (first - origin_s, end - origin_s) if first is not None else (0.0, 0.0)


def _decord_timestamps(path: Path) -> tuple[np.ndarray, float, int, int]:
    """Frame start times, average fps and size from decord (reads the packet index)."""
    vr = _decord().VideoReader(str(path))
    stamps = vr.get_frame_timestamp(np.arange(len(vr)))
    height, width = vr[0].shape[:2] if len(vr) else (0, 0)
    return stamps[:, 0].astype(np.float64), float(vr.get_avg_fps()), width, height


def _pyav_timestamps(path: Path) -> tuple[np.ndarray, float, int, int]:
    """Frame start times by decoding every frame (that also proves the data is decodable).

    Single-threaded on purpose: with frame threading FFmpeg drops the "invalid data" error of
    a truncated packet and the decode just ends early.
    """
    with av.open(str(path)) as container:
        stream, origin = container.streams.video[0], _origin_s(container)
        times = [frame.time - origin for frame in container.decode(stream) if frame.time is not None]
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        return np.asarray(times, dtype=np.float64), rate, stream.width, stream.height


def probe(path: str | os.PathLike, decoder: str = "auto") -> VideoInfo:
    """Read a file's streams and frame timestamps; raise VideoError if it is not a usable video.

    The container header (PyAV) gives the audio facts; the frame timestamps come from decord,
    or from a full PyAV decode when decord fails or decoder="pyav". Both readers go through
    every packet, so truncated files fail here rather than during feature extraction.
    duration_s is the end of the last frame (its start plus the median frame duration); the
    audio's span is read from its packets' timestamps, on the same clock.
    """
    path = Path(path)
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    with _open_container(path) as container:
        if not container.streams.video:
            raise VideoError(path, "no video stream")
        video = container.streams.video[0]
        declared_s = float(video.duration * video.time_base) if video.duration else None
        audio = container.streams.audio
        audio_rate = int(audio[0].rate or 0) if audio else 0
        audio_channels = int(audio[0].codec_context.layout.nb_channels) if audio else 0
        audio_span = _audio_span(container, _origin_s(container)) if audio else (0.0, 0.0)
    stamps, used = _timestamps(path, decoder)
    times, fps, width, height = stamps
    if len(times) == 0:
        raise VideoError(path, "no decodable frames")
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / (fps or 25.0)
    duration_s = float(times[-1] + step)
    if declared_s is not None and duration_s < declared_s - _TRUNCATION_TOLERANCE_S:
        raise VideoError(path, "truncated", f"frames end at {duration_s:.2f} s, "
                         f"header declares {declared_s:.2f} s")
    return VideoInfo(duration_s=duration_s, fps=fps or 1.0 / step,
                     width=int(width), height=int(height), num_frames=len(times),
                     has_audio=bool(audio), audio_rate=audio_rate,
                     audio_channels=audio_channels, decoder=used,
                     audio_start_s=audio_span[0], audio_end_s=audio_span[1])


def _timestamps(path: Path, decoder: str) -> tuple[tuple[np.ndarray, float, int, int], str]:
    """Timestamps from the preferred decoder, falling back to PyAV; names the one used."""
    errors = []
    if decoder in ("auto", "decord"):
        try:
            return _decord_timestamps(path), "decord"
        except Exception as exc:  # decord raises RuntimeError/DECORDError subclasses
            if decoder == "decord":
                raise VideoError(path, "unreadable", f"decord: {exc}") from exc
            errors.append(f"decord: {exc}")
    try:
        return _pyav_timestamps(path), "pyav"
    except av.error.FFmpegError as exc:
        errors.append(f"pyav: {_ffmpeg_message(exc)}")
        raise VideoError(path, "truncated or corrupt", "; ".join(errors)) from exc


# ---------------------------------------------------------------- frames
def frame_indices(frame_starts: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each time (last start <= t), clamped to the clip."""
    idx = np.searchsorted(frame_starts, np.asarray(times_s) + _EPS_S, side="right") - 1
    return np.clip(idx, 0, len(frame_starts) - 1)


def _decord_frames(path: Path, times_s: np.ndarray, short_side: int | None = None) -> np.ndarray:
    """decord's frames in one batch, or one at a time, each reduced as it comes into an array
    made once, when the first one shows that they are larger than needed. One at a time is
    seek_accurate + next: the same pixels as get_batch, whose one-frame calls kept ~300 MB more
    at 1080p (measured)."""
    vr = _decord().VideoReader(str(path))
    idx = frame_indices(vr.get_frame_timestamp(np.arange(len(vr)))[:, 0], times_s)
    unique, inverse = np.unique(idx, return_inverse=True)

    def frame(i: int) -> np.ndarray:
        vr.seek_accurate(int(i))
        return vr.next().asnumpy()[None]

    first = frame(unique[0])
    reduced = reduce_frames(first, short_side)
    if reduced is first:
        batch = vr.get_batch(unique.tolist()).asnumpy()
    else:
        batch = np.empty((len(unique), *reduced.shape[1:]), np.uint8)
        batch[0] = reduced[0]
        for k, i in enumerate(unique[1:], 1):
            batch[k] = reduce_frames(frame(i), short_side)[0]
    return batch if len(unique) == len(idx) and (inverse == np.arange(len(idx))).all() else batch[inverse]


def _pyav_frames(path: Path, times_s: np.ndarray, short_side: int | None = None) -> np.ndarray:
    """One decoding pass; a frame is kept (reduced) for every pending time before the next
    frame starts. Frame times are read on the clock (from the video stream's start)."""
    order = np.argsort(times_s, kind="stable")
    out: list[np.ndarray | None] = [None] * len(times_s)
    pending = 0
    previous: av.VideoFrame | None = None
    rgb: np.ndarray | None = None  # previous frame's pixels, converted only when kept
    keep = lambda frame: reduce_frames(frame.to_ndarray(format="rgb24")[None], short_side)[0]  # noqa: E731
    with av.open(str(path)) as container:
        origin = _origin_s(container)
        for frame in container.decode(container.streams.video[0]):
            if frame.time is None:
                continue
            while pending < len(order) and previous is not None and \
                    times_s[order[pending]] + _EPS_S < frame.time - origin:
                rgb = keep(previous) if rgb is None else rgb
                out[order[pending]] = rgb
                pending += 1
            if pending == len(order):
                break
            previous, rgb = frame, None
        if previous is None:
            raise VideoError(path, "no decodable frames")
        for i in order[pending:]:
            rgb = keep(previous) if rgb is None else rgb
            out[i] = rgb
    return np.stack(out) if out else np.zeros((0, 0, 0, 3), np.uint8)


def decode_frames(path: str | os.PathLike, times_s, decoder: str = "auto", short_side: int | None = None
                  ) -> np.ndarray:
    """Frames on screen at `times_s` at their own size: uint8 [K, H, W, 3], one per time; with
    `short_side` (the largest model input), frames over twice that are reduced to twice that
    as they are decoded (frames.reduce_frames).

    Times past the end clamp to the last frame (short clips; the caller decided with
    check_usable whether the clip is used). decord reads first; PyAV is used when decord fails
    or decoder="pyav". Raises VideoError when neither can decode the file.
    """
    path, times = Path(path), np.asarray(times_s, dtype=np.float64)
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    errors = []
    frames = None
    if decoder in ("auto", "decord"):
        try:
            frames = _decord_frames(path, times, short_side)
        except Exception as exc:  # decord's errors are RuntimeError subclasses
            errors.append(f"decord: {exc}")
    if frames is None and decoder in ("auto", "pyav"):
        try:
            frames = _pyav_frames(path, times, short_side)
        except av.error.FFmpegError as exc:
            errors.append(f"pyav: {_ffmpeg_message(exc)}")
    if frames is None:
        raise VideoError(path, "undecodable frames", "; ".join(errors))
    return frames


# ---------------------------------------------------------------- audio
# A window that starts AUDIO_SEEK_AFTER_S or later into a file (the later windows of a long video
# in `vplan parse`) is decoded from a seek AUDIO_SEEK_MARGIN_S before it, not from 0: time and
# memory stay flat. The resampler then starts at another phase: its samples lie up to half an
# output sample (31 us at 16 kHz) from a decode from 0. Earlier windows (every LLP clip) are
# decoded from 0, exactly as before.
AUDIO_SEEK_AFTER_S, AUDIO_SEEK_MARGIN_S = 30.0, 1.0
_RESAMPLER_TAIL_S = 0.5  # audio decoded past the window, so every window sample has its filter's input


def _resampled_window(audio: np.ndarray | None, source, rate: int, first_s: float, start_s: float,
                      seconds: float) -> np.ndarray:
    """The window [start_s, start_s + seconds) at `rate` of decoded `audio` [channels or 1, n]
    (source: the stream's format, layout and rate) whose first sample is at first_s on the clock
    (before the window: cut; in it: silence before it): resampled in one call
    (FFmpeg's resampler gives the same samples as fed frame by frame, and costs less), channels
    averaged, zero-padded to the window's length."""
    first, length = int(round(start_s * rate)), int(round(seconds * rate))
    wave = np.zeros(0, np.float32)
    if audio is not None and audio.shape[1]:
        fmt, layout, source_rate = source
        frame = av.AudioFrame.from_ndarray(audio, format=fmt, layout=layout)
        frame.sample_rate, frame.pts = source_rate, 0
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = [out.to_ndarray() for out in [*resampler.resample(frame), *resampler.resample(None)]]
        wave = np.concatenate(chunks, axis=1).mean(axis=0).astype(np.float32) if chunks else wave
    begin = int(round(first_s * rate))  # sample index of wave[0]
    wave = wave[max(first - begin, 0):max(first + length - begin, 0)]
    lead = min(max(begin - first, 0), length)  # audio that starts inside the window: silence before
    return np.pad(wave, (lead, max(length - lead - len(wave), 0)))[:length]


def sample_audio_rates(path: str | os.PathLike, rates, seconds: float = 10.0, start_s: float = 0.0
                       ) -> dict[int, np.ndarray]:
    """sample_audio at each of `rates` from one decode: every rate is resampled from the same
    decoded samples, so each wave equals a decode of its own rate sample for sample. The decoded
    samples are placed on the clock by the first decoded frame's timestamp (contiguous from
    there)."""
    path = Path(path)
    chunks: list[np.ndarray] = []
    with _open_container(path) as container:
        if not container.streams.audio:
            raise VideoError(path, "no audio stream")
        stream, origin = container.streams.audio[0], _origin_s(container)
        end_s = origin + start_s + seconds + _RESAMPLER_TAIL_S  # in the file's timestamps
        first_s = 0.0
        try:
            if start_s >= AUDIO_SEEK_AFTER_S:
                container.seek(int((origin + start_s - AUDIO_SEEK_MARGIN_S) / stream.time_base), stream=stream)
            for frame in container.decode(stream):
                if not chunks:
                    first_s = (frame.time if frame.time is not None else origin) - origin
                chunks.append(frame.to_ndarray())
                if frame.time is not None and frame.time >= end_s:
                    break
        except av.error.FFmpegError as exc:
            raise VideoError(path, "undecodable audio", _ffmpeg_message(exc)) from exc
        source = (stream.codec_context.format.name, stream.codec_context.layout.name, stream.codec_context.sample_rate)
    audio = np.concatenate(chunks, axis=1) if chunks else None
    return {rate: _resampled_window(audio, source, rate, first_s, start_s, seconds) for rate in dict.fromkeys(rates)}


def sample_audio(path: str | os.PathLike, sample_rate: int = 16000, seconds: float = 10.0,
                 start_s: float = 0.0) -> np.ndarray:
    """Mono float32 [round(seconds * sample_rate)] of the window [start_s, start_s + seconds).

    Decoded and resampled with PyAV (FFmpeg's resampler, all channels kept), then the channels
    are averaged. Audio shorter than the window is zero-padded at the end. A file without an
    audio stream raises VideoError(reason="no audio stream"): an audio feature records such a
    video as skipped (extract_shard's skips and the store's "skipped" attr) instead of
    inventing silent features.
    """
    return sample_audio_rates(path, (sample_rate,), seconds, start_s)[sample_rate]
