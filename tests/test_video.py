"""Decoding and LLP sampling on real mp4s in several encodings (tests/media.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media import CLIPS, Audio, frame_times, read_barcode, write_broken, write_clips, write_video
from vplan_core.data.frames import resize_crop_array as resize_crop
from vplan_core.data.video import (VideoError, check_usable, decode_frames, llp_frame_times, probe,
                                   sample_audio, segment_middle_times)
from vplan_core.features.decoding import sample_frames

SIZE = 48


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    return write_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def broken(tmp_path_factory):
    return write_broken(tmp_path_factory.mktemp("broken"))


def expected_indices(name: str, times: np.ndarray) -> list[int]:
    """Frame on screen at each time, from the times the writer used (independent of video.py)."""
    spec = CLIPS[name]
    starts = frame_times(spec.get("seconds", 10.0), spec.get("fps", 25), spec.get("vfr", False))
    return [max([k for k, s in enumerate(starts) if s <= t] or [0]) for t in times]


def test_sampling_rules():
    times = llp_frame_times()
    assert len(times) == 80
    np.testing.assert_allclose(times[:2], [0.0625, 0.1875])
    np.testing.assert_allclose(times[-1], 9.9375)
    np.testing.assert_allclose(llp_frame_times(start_s=2.0)[0], 2.0625)
    np.testing.assert_allclose(segment_middle_times(), np.arange(10) + 0.5)


@pytest.mark.parametrize("name", list(CLIPS))
def test_probe_and_frames_per_encoding(clips, name):
    spec = CLIPS[name]
    info = probe(clips[name])
    assert info.decoder == "decord"
    assert (info.width, info.height) == (spec.get("width", 64), spec.get("height", 48))
    assert info.duration_s == pytest.approx(spec.get("seconds", 10.0), abs=0.02)
    assert info.has_audio == ("audio" in spec)
    if "audio" in spec:
        assert (info.audio_channels, info.audio_rate) == (spec["audio"].channels,
                                                          spec["audio"].rate)
    pyav_info = probe(clips[name], decoder="pyav")
    assert pyav_info.decoder == "pyav"
    assert pyav_info.num_frames == info.num_frames
    assert pyav_info.duration_s == pytest.approx(info.duration_s, abs=1e-3)

    times = llp_frame_times()
    by_decord = sample_frames(clips[name], times, SIZE, decoder="decord")
    by_pyav = sample_frames(clips[name], times, SIZE, decoder="pyav")
    assert by_decord.shape == (80, SIZE, SIZE, 3) and by_decord.dtype == np.uint8
    np.testing.assert_array_equal(by_decord, by_pyav)
    assert [read_barcode(f) for f in by_decord] == expected_indices(name, times)


def test_variable_frame_rate_uses_timestamps(clips):
    # With irregular frame durations, index = t * avg_fps picks wrong frames; timestamps don't.
    times = llp_frame_times()
    got = [read_barcode(f) for f in sample_frames(clips["h264_vfr_stereo44k"], times, SIZE)]
    naive = [int(t * probe(clips["h264_vfr_stereo44k"]).fps) for t in times]
    assert got == expected_indices("h264_vfr_stereo44k", times)
    assert got != naive


def test_long_clip_window_start(clips):
    times = llp_frame_times(start_s=4.0)
    got = [read_barcode(f) for f in sample_frames(clips["h264_14s"], times, SIZE)]
    assert got == expected_indices("h264_14s", times)
    assert got[0] == int(4.0625 * 30)


def test_short_clip_clamps_and_rule(clips):
    path = clips["h264_6s"]
    info = probe(path)
    got = [read_barcode(f) for f in sample_frames(path, llp_frame_times(), SIZE)]
    assert got == expected_indices("h264_6s", llp_frame_times())
    assert got.count(149) == 32  # every t >= 5.96 s (the last frame start) clamps to it
    reason = check_usable(info, min_duration_s=9.0)
    assert reason is not None and reason.startswith("too short")
    assert check_usable(info, min_duration_s=5.0) is None


def test_resize_crop_rule():
    frame = np.zeros((97, 161, 3), np.uint8)
    frame[:, 74:87] = 255  # a band around the centre column 80
    frame[:, :18] = frame[:, -18:] = 255  # edges the centre crop (of 53 resized columns) drops
    out = resize_crop(frame, 32)
    assert out.shape == (32, 32, 3)
    profile = out[..., 0].mean(axis=0)
    assert profile[:2].max() == 0 and profile[-2:].max() == 0
    assert abs(np.average(np.arange(32), weights=profile) - 15.5) < 0.6
    gray = resize_crop(np.full((40, 30), 77, np.uint8), 16)
    assert gray.shape == (16, 16, 3) and (gray == 77).all()


@pytest.mark.parametrize("problem, reason", [
    ("zero_bytes", "empty file"), ("random_bytes", "unreadable"), ("truncated", "unreadable"),
    ("truncated_faststart", "truncated"), ("audio_only", "no video stream")])
def test_probe_errors(broken, problem, reason):
    with pytest.raises(VideoError) as err:
        probe(broken[problem])
    assert err.value.reason.startswith(reason)
    assert str(broken[problem]) in str(err.value)


def test_missing_file_error(tmp_path):
    with pytest.raises(VideoError, match="missing file"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("name", ["h264_24fps_161x97_mono8k", "h264_25fps_stereo44k",
                                  "h264_30fps_6ch48k", "h264_vfr_stereo44k", "h264_6s"])
def test_audio_count_downmix_and_timing(clips, name):
    spec = CLIPS[name]["audio"]
    wave = sample_audio(clips[name])
    assert wave.shape == (160000,) and wave.dtype == np.float32
    # The written sine, in phase: a decoder that shifts or drops samples fails this.
    t = np.arange(16000, 32000) / 16000
    sine = np.sin(2 * np.pi * spec.freq_hz * t)
    assert np.corrcoef(wave[16000:32000], sine)[0, 1] > 0.995
    rms = np.sqrt(np.mean(wave[16000:32000] ** 2)) / (spec.amplitude / np.sqrt(2))
    # Mean of channels: identical channels keep the amplitude; 5.1's LFE is low-passed away.
    assert rms == pytest.approx(5 / 6 if spec.channels == 6 else 1.0, rel=0.05)


def test_audio_padding_and_start(clips):
    short = sample_audio(clips["h264_6s"])
    assert np.abs(short[16000 * 6 + 800:]).max() == 0.0 and np.abs(short[:16000]).max() > 0.2
    late = sample_audio(clips["h264_14s"], start_s=4.0)
    full = sample_audio(clips["h264_14s"], seconds=14.0)
    np.testing.assert_allclose(late, full[64000:224000], atol=1e-6)


def test_no_audio_stream(clips):
    with pytest.raises(VideoError) as err:
        sample_audio(clips["mpeg4_25fps_noaudio"])
    assert err.value.reason == "no audio stream"


def test_a_late_window_is_decoded_from_a_seek_within_half_a_sample(tmp_path):
    """Windows from AUDIO_SEEK_AFTER_S on are decoded from a seek: the same samples as a decode
    from 0 up to the resampler's phase (half an output sample), in flat time."""
    from vplan_core.data import video

    path = tmp_path / "long.mp4"
    write_video(path, seconds=70.0, fps=2, width=32, height=24, audio=Audio(2, 44100, 1000.0))
    for start in (video.AUDIO_SEEK_AFTER_S, 55.0, 65.0):  # the last window runs past the end: padded
        seeked = sample_audio(path, start_s=start)
        video.AUDIO_SEEK_AFTER_S, after = float("inf"), video.AUDIO_SEEK_AFTER_S
        try:
            from_zero = sample_audio(path, start_s=start)
        finally:
            video.AUDIO_SEEK_AFTER_S = after
        assert seeked.shape == from_zero.shape == (160000,)
        assert np.array_equal(seeked[-80000:] == 0.0, from_zero[-80000:] == 0.0)  # the same padding
        # a 1 kHz tone of amplitude 0.3 moved by at most half a 16 kHz sample: |diff| <= 2π·1000·(0.5/16000)·0.3
        assert np.abs(seeked - from_zero).max() <= 2 * np.pi * 1000 * 0.5 / 16000 * 0.31
        assert np.corrcoef(seeked[:80000], from_zero[:80000])[0, 1] > 0.99


# ---------------------------------------------------------------- one clock for audio and frames
TONES = tuple(200.0 * (k + 1) for k in range(14))  # content second k sounds 200 (k + 1) Hz


def tone_of_each_second(wave: np.ndarray, rate: int = 16000) -> list[float]:
    """The loudest frequency of each second of `wave`, from its [0.2, 0.45) s part (0 for silence)."""
    out = []
    for s in range(len(wave) // rate):
        block = wave[int((s + 0.2) * rate):int((s + 0.45) * rate)]
        spectrum = np.abs(np.fft.rfft(block))
        out.append(0.0 if spectrum.max() < 1.0 else round(float(np.fft.rfftfreq(len(block), 1 / rate)[spectrum.argmax()]), -1))
    return out


# name -> (write_video arguments, the audio's offset on the clock: content second k sounds at k + offset)
AV_CLOCK_CLIPS = {
    # a cut that kept its source's clock: every stream starts at 100 s
    "streams_at_100s": (dict(audio=Audio(1, 44100, tones=TONES), start_s=100.0), 0.0),
    # audio starting 0.5 s after the first frame: a leading gap
    "audio_late": (dict(audio=Audio(1, 44100, tones=TONES, start_s=0.5, seconds=9.5)), 0.5),
    # audio longer than the video: from 1 s before the first frame to 1 s after the last
    "audio_longer": (dict(audio=Audio(1, 44100, tones=TONES, start_s=-1.0, seconds=12.0), start_s=1.0), -1.0),
}


@pytest.fixture(scope="module")
def av_clock_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("av_clock")
    paths = {}
    for name, (spec, _) in AV_CLOCK_CLIPS.items():
        paths[name] = folder / f"{name}.mp4"
        write_video(paths[name], seconds=10.0, fps=25, **spec)
    paths["audio_ends_at_0.2s"] = folder / "audio_ends_at_0.2s.mp4"
    write_video(paths["audio_ends_at_0.2s"], seconds=10.0, audio=Audio(2, 44100, seconds=0.2))
    return paths


@pytest.mark.parametrize("name", list(AV_CLOCK_CLIPS))
@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_audio_and_frames_share_the_clock(av_clock_clips, name, decoder):
    """Frames and audio of the window [0, 10) are the content at those seconds of the video:
    the frame on screen and the tone that sounds, whatever time each stream starts at."""
    offset = AV_CLOCK_CLIPS[name][1]
    info = probe(av_clock_clips[name], decoder=decoder)
    assert info.duration_s == pytest.approx(10.0, abs=0.02)
    frames = decode_frames(av_clock_clips[name], llp_frame_times(), decoder)
    assert [read_barcode(f) for f in frames] == [int(t * 25) for t in llp_frame_times()]
    heard = tone_of_each_second(sample_audio(av_clock_clips[name]))
    content_second = [int(np.floor(s + 0.2 - offset)) for s in range(10)]  # of each part heard
    expected = [TONES[k] if k >= 0 else 0.0 for k in content_second]
    assert heard == expected


def test_audio_coverage_decides_and_padding_is_recorded(av_clock_clips):
    short = probe(av_clock_clips["audio_ends_at_0.2s"])
    assert check_usable(short) == "audio coverage: 0.20 s of the 10.00 s of video in [0, 10) s (needs 9.00 s)"
    assert (short.audio_start_s <= 0.0, short.audio_end_s) == (True, pytest.approx(0.2, abs=1e-3))
    assert check_usable(short, min_audio_s=0.1) is None  # the threshold is a setting
    wave = sample_audio(av_clock_clips["audio_ends_at_0.2s"])
    assert np.abs(wave[int(0.3 * 16000):]).max() == 0.0  # what a used clip would get: silence padded in
    for name in AV_CLOCK_CLIPS:
        assert check_usable(probe(av_clock_clips[name])) is None, name
    from vplan_core.data.video import audio_coverage, padding_note

    late = probe(av_clock_clips["audio_late"])
    covered, video = audio_coverage(late, 0.0, 10.0)
    # the AAC encoder's 1024 priming samples (23 ms at 44.1 kHz) come first and count as audio
    assert video - covered == pytest.approx(0.5, abs=0.03)
    assert padding_note(late).startswith("audio padded: 0.4")
    assert padding_note(probe(av_clock_clips["audio_longer"])) == ""


def test_a_folder_given_as_a_video_says_so(tmp_path):
    with pytest.raises(VideoError, match="a folder, not a video file"):
        probe(tmp_path)
