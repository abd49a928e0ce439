"""Demo clips as real mp4 files (H.264 + AAC), so the demo exercises the same decoding path as
downloaded LLP videos.

Files are written to a temporary name beside the target and renamed, so a killed job never
leaves a truncated clip that a later run would take for a finished one.
"""
from __future__ import annotations

from pathlib import Path

import av

from vplan_core import atomic
from vplan_core.demo.render import ClipRenderer
from vplan_core.demo.sound import DURATION_S, render_audio


def write_clip(scenario: dict, path: str | Path, width: int = 192, height: int = 144, fps: int = 24,
               audio_rate: int = 44100) -> Path:
    """Render one scenario to a 10 s mp4: libx264 yuv420p video, mono AAC audio."""
    path = Path(path)
    with atomic.replacing(path, ".mp4") as tmp:
        renderer = ClipRenderer(scenario, (width, height))
        audio = render_audio(scenario, audio_rate)
        with av.open(tmp, "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            # One thread: demo clips are rendered many at a time, one job per core.
            video.options = {"preset": "ultrafast", "crf": "20", "threads": "1"}
            sound = out.add_stream("aac", rate=audio_rate, layout="mono")
            sound.options = {"aac_coder": "fast"}  # the default coder takes 3x the CPU
            for k in range(DURATION_S * fps):
                frame = av.VideoFrame.from_ndarray(renderer.frame(k / fps), format="rgb24")
                frame.pts = k
                out.mux(video.encode(frame))
            out.mux(video.encode())
            frame = av.AudioFrame.from_ndarray(audio[None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = audio_rate, 0
            out.mux(sound.encode(frame))  # PyAV cuts it into AAC frames
            out.mux(sound.encode())
    return path


def render_clips(scenarios: list[dict], out_dir: str | Path, width: int = 192, height: int = 144,
                 fps: int = 24, audio_rate: int = 44100) -> list[Path]:
    """Write `<video_id>.mp4` for each scenario (one shard of the demo set); returns the paths."""
    return [write_clip(s, Path(out_dir) / f"{s['video_id']}.mp4", width, height, fps, audio_rate)
            for s in scenarios]
