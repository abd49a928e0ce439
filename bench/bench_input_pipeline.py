"""The CPU side of extraction for one video: decode once and prepare the inputs of every feature
(ResNet frames, R(2+1)D clips, CLIP images, VGGish examples, CLAP windows), with no model, on
one core and one process, side by side with a plain decode of the same frames and audio.

    .venv/bin/python bench/bench_input_pipeline.py --video PATH [--repeats N] [--old]

"plain" is what any pipeline must pay: decord's get_batch of the frames on screen at the 90
times the features read, and PyAV's decode of the audio stream to arrays (no resampling). "one
pass" is vplan's (features/decoding.py decode_window, then each extractor's prepare). --old
adds the path it replaced (tests/reference_extraction.py: a decode per feature, PIL resizing).
Rounds interleave the variants; the figures are medians. The last line is a JSON object with
ms_per_video (one pass), the plain decode's, their ratio, the one pass's mean by part (decode,
frames to model size, audio front ends), and the CPU side of a GPU job (decode and audio front
ends: frames are resized on the device there) against the plain decode.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vplan_core.data.video import frame_indices, _decord  # noqa: E402
from vplan_core.demo import clap_training  # noqa: E402
from vplan_core.features.decoding import DecodePlan, decode_window  # noqa: E402
from vplan_core.features.extract import build_extractor  # noqa: E402
from vplan_core.method import plg  # noqa: E402

CLAP_CONFIG = Path(__file__).resolve().parents[1] / "tests" / "data" / "laion_clap" / "config_fused.json"


def extractors(tokenizer_dir: str) -> dict:
    """The five features at LLP's settings. Backbones are random and small where the input does
    not depend on them (ResNet-18 prepares what ResNet-152 does; CLIP ViT-B/32's preprocess;
    a tiny CLAP: its input is the windows)."""
    settings = {"cnn2d": {"weights": "random:0", "backbone": "resnet18", "size": 224},
                "r2plus1d": {"weights": "random:0", "size": 112},
                "clip": {"model_name": "ViT-B-32", "checkpoint": "random:0", "size": 224},
                "vggish": {"weights": "random:0"},
                "clap": {"checkpoint": "random:0", "config": str(CLAP_CONFIG), "tokenizer": tokenizer_dir}}
    return {name: build_extractor(name, s) for name, s in settings.items()}


def plain_decode(path: str, times: np.ndarray) -> None:
    vr = _decord().VideoReader(path)
    idx = np.unique(frame_indices(vr.get_frame_timestamp(np.arange(len(vr)))[:, 0], times))
    vr.get_batch(idx.tolist()).asnumpy()
    with av.open(path) as container:
        for frame in container.decode(container.streams.audio[0]):
            frame.to_ndarray()


def one_pass(path: str, plan: DecodePlan, extractors: dict, parts: dict[str, list[float]]) -> None:
    """decode_window, then every extractor's prepare; the time of each part goes to `parts`."""
    started = time.perf_counter()
    decoded = decode_window(path, plan)
    parts["decode"].append(time.perf_counter() - started)
    for name, ex in extractors.items():
        started = time.perf_counter()
        ex.prepare(decoded)
        parts["audio_front_ends" if ex.needs.audio_rate else "frames_to_model_size"].append(time.perf_counter() - started)


def old_path(path: str, extractors: dict) -> None:
    from tests import reference_extraction as old

    old.cnn2d_frames(path, 224)
    old.r2plus1d_clips(path, 112)
    old.sample_frames(path, old.segment_middle_times(), 224)
    old.vggish_examples(path)
    old.clap_windows(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--old", action="store_true", help="also time the per-feature path it replaced")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tokenizer:
        clap_training.build_tokenizer(Path(tokenizer), plg.prompt_texts(plg.AUDIO_PROMPT, ["dog"]), vocab_size=300)
        exs = extractors(tokenizer)
    plan = DecodePlan.union(ex.needs for ex in exs.values())
    parts: dict[str, list[float]] = {"decode": [], "frames_to_model_size": [], "audio_front_ends": []}
    variants = {"plain": lambda: plain_decode(args.video, np.asarray(plan.frame_times)),
                "one_pass": lambda: one_pass(args.video, plan, exs, parts)}
    if args.old:
        variants["old"] = lambda: old_path(args.video, exs)
    for run in variants.values():  # warm-up: imports, first allocations
        run()
    for part in parts.values():
        part.clear()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append(1000 * (time.perf_counter() - started))
    medians = {name: statistics.median(ms) for name, ms in times.items()}
    for name, ms in times.items():
        print(f"{name:9s} median {medians[name]:7.1f} ms  (min {min(ms):.1f}, max {max(ms):.1f}, n={len(ms)})")
    # a GPU job resizes frames on the device: its CPU side is the decode and the audio front ends
    per_part = {name: round(1000 * sum(v) / args.repeats, 2) for name, v in parts.items()}  # mean ms a video
    cpu_side_of_gpu_job = per_part["decode"] + per_part["audio_front_ends"]
    result = {"video": args.video, "repeats": args.repeats, "ms_per_video": round(medians["one_pass"], 2),
              "plain_decode_ms": round(medians["plain"], 2),
              "ratio_to_plain": round(medians["one_pass"] / medians["plain"], 3),
              "mean_ms_by_part": per_part,
              "gpu_job_cpu_side_ratio_to_plain": round(cpu_side_of_gpu_job / statistics.mean(times["plain"]), 3)}
    if args.old:
        result["old_ms_per_video"] = round(medians["old"], 2)
        result["old_ratio_to_plain"] = round(medians["old"] / medians["plain"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
