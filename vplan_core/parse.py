"""`vplan parse VIDEO --checkpoint MODEL --config CONFIG`: audio-visual events of one clip.

Features are extracted with the extractor settings of CONFIG (the workflow's config: weights,
backbone, frame size, PCA, sampling), the trained parser checkpoint (any family) scores them, and the result is
written as JSON events plus a PNG timeline. Paths in CONFIG are read relative to the current
directory (run it where the workflow ran, e.g. the repository root for the demo).

Clips of any length: the video is cut into consecutive 10-s windows [10w, 10w + 10),
w = 0 .. n-1 with n = max(1, ceil((duration - SLACK_S) / 10)); each window is sampled exactly
like an LLP clip (80 frames at 8 fps, one VGGish example a second). Up to SLACK_S (0.5 s) past a
multiple of 10 s is container rounding, not content (a real LLP clip is 10.03 s long): it is
dropped, and no event starts in it. A longer remainder gets a last window, padded: frame times
past the end show the last frame and missing audio is silence. Segments (1 s) that start at or
after the end of the video are dropped, and the last event's offset is clipped to the duration.

Decisions follow the evaluation (metric.md §3): a segment is on when its probability is >= 0.5
and the window's video-level probability of that class is >= 0.5. audio-visual = audio and
visual on in the same segment. Events are runs of consecutive "on" segments of one class and
modality; onset/offset are seconds of the whole video; confidence is the mean probability over
the event's segments (for audio-visual, of min(audio, visual)).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from vplan_core.data.llp import CLASSES
from vplan_core.evaluation.metrics import binarize
from vplan_core.plan import extraction_settings

# torch, the extractors and PyAV are imported where used: `vplan --help` stays fast.

WINDOW_S = 10
SLACK_S = 0.5  # LLP's 10-s clips last 10.0-10.1 s in their containers
MODALITIES = ("audio", "visual", "audio-visual")


def window_count(duration_s: float) -> int:
    return max(1, math.ceil((duration_s - SLACK_S) / WINDOW_S - 1e-6))


def extract_windows(video: str | Path, config: dict, n_windows: int, device: str = "cpu"):
    """Parser input features (dataset.Features) of each 10-s window: audio [n,10,128], visual_2d [n,80,D],
    visual_3d [n,10,512]."""
    from vplan_core.data.dataset import Features
    from vplan_core.features.extract import build_extractor
    from vplan_core.feature_registry import FEATURES, HAN_FEATURES

    arrays = {}
    for feature in HAN_FEATURES:
        extractor = build_extractor(feature, extraction_settings(config, feature), device)
        arrays[FEATURES[feature].han_input] = np.stack([extractor.window_features(video, w * WINDOW_S)
                                 for w in range(n_windows)]).astype(np.float32)
    return Features(video_ids=[f"window_{w}" for w in range(n_windows)], **arrays)


def _check_dims(model, features, checkpoint: str | Path, config_path: str | Path) -> None:
    kwargs = model.init_kwargs
    got = {"audio_dim": features.audio.shape[-1], "visual_2d_dim": features.visual_2d.shape[-1],
           "visual_3d_dim": features.visual_3d.shape[-1]}
    wrong = {k: (kwargs[k], v) for k, v in got.items() if k in kwargs and kwargs[k] != v}
    if wrong:
        details = ", ".join(f"{k}: model {m}, features {f}" for k, (m, f) in wrong.items())
        raise ValueError(f"checkpoint {checkpoint} was trained on other features than config "
                         f"{config_path} extracts ({details}); use the config the model was trained with")


def events_from_probs(audio_prob: np.ndarray, visual_prob: np.ndarray, video_prob: np.ndarray,
                      duration_s: float) -> list[dict]:
    """Windows [n,10,C] -> events over the whole video (see the module docstring)."""
    so_a, so_v = binarize(audio_prob, visual_prob, video_prob)
    n_seg = min(audio_prob.shape[0] * audio_prob.shape[1], max(1, math.ceil(duration_s - 1e-6)))
    flat = lambda a: a.reshape(-1, a.shape[-1])[:n_seg]  # noqa: E731
    on = {"audio": flat(so_a), "visual": flat(so_v)}
    on["audio-visual"] = on["audio"] & on["visual"]
    prob = {"audio": flat(audio_prob), "visual": flat(visual_prob)}
    prob["audio-visual"] = np.minimum(prob["audio"], prob["visual"])
    events = []
    for modality in MODALITIES:
        for c, name in enumerate(CLASSES):
            column = np.concatenate([[0], on[modality][:, c].astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(column))
            for start, end in zip(edges[::2], edges[1::2]):
                events.append({"modality": modality, "class": name, "onset": float(start),
                               "offset": round(float(min(end, duration_s)), 3),  # ms: container durations carry float noise
                               "confidence": round(float(prob[modality][start:end, c].mean()), 4)})
    events.sort(key=lambda e: (e["onset"], MODALITIES.index(e["modality"]), e["class"]))
    return events


def plot_timeline(events: list[dict], duration_s: float, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = sorted({e["class"] for e in events}, key=CLASSES.index)
    colours = {"audio": "tab:blue", "visual": "tab:orange", "audio-visual": "tab:green"}
    offsets = {"audio": -0.27, "visual": 0.0, "audio-visual": 0.27}
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.5 * max(1, len(classes))))
    for e in events:
        y = classes.index(e["class"]) + offsets[e["modality"]]
        ax.barh(y, e["offset"] - e["onset"], left=e["onset"], height=0.25, color=colours[e["modality"]],
                alpha=0.35 + 0.65 * e["confidence"])
    for modality, colour in colours.items():
        ax.barh([], [], color=colour, label=modality)
    ax.set_yticks(range(len(classes)), [c.replace("_", " ") for c in classes])
    ax.set_xlim(0, max(duration_s, 1.0))
    ax.set_ylim(-0.7, max(1, len(classes)) - 0.3)
    ax.set_xlabel("time (s)")
    ax.set_title(title if classes else f"{title}: no events")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_video(video: str | Path, checkpoint: str | Path, config_path: str | Path,
                out_dir: str | Path | None = None, device: str = "cpu") -> dict:
    """Extract, predict, write <out>/<stem>.events.json and <stem>.timeline.png; return the JSON."""
    import torch
    import yaml

    from vplan_core.training.checkpoints import load_checkpoint
    from vplan_core.training.prediction import predict
    from vplan_core.data.video import probe

    video, config_path = Path(video), Path(config_path)
    if not video.is_file():
        raise FileNotFoundError(f"{video}: no such file")
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint}: no such file")
    config = yaml.safe_load(config_path.read_text())
    from vplan_core.config import validate_config

    validate_config(config)
    info = probe(video)
    n_windows = window_count(info.duration_s)
    features = extract_windows(video, config, n_windows, device=device)
    model, payload = load_checkpoint(checkpoint, device=device)
    _check_dims(model, features, checkpoint, config_path)
    with torch.inference_mode():
        pred = predict(model, features, device=device)
    events = events_from_probs(pred["audio_prob"], pred["visual_prob"], pred["video_prob"], info.duration_s)
    out_dir = Path(out_dir) if out_dir is not None else video.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "video": str(video), "duration_s": round(info.duration_s, 3), "windows": n_windows,
        "window_rule": f"consecutive 10-s windows from 0 s; up to {SLACK_S} s past the last full "
                       "window dropped, a longer rest padded (last frame repeated, silent audio); "
                       "segments starting after the end dropped",
        "checkpoint": str(checkpoint), "config": str(config_path),
        "threshold": "segment prob >= 0.5 and video-level prob >= 0.5",
        "events": events,
    }
    json_path, png_path = out_dir / f"{video.stem}.events.json", out_dir / f"{video.stem}.timeline.png"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    plot_timeline(events, info.duration_s, png_path, video.name)
    result["outputs"] = {"events": str(json_path), "timeline": str(png_path)}
    return result


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, metavar="VIDEO.mp4", help="a video of any length")
    parser.add_argument("--checkpoint", required=True, type=Path, metavar="MODEL",
                        help="a trained model.pt (results/<dataset>/models/<family>/<row>/seeds_<seeds>/seed_<s>/model.pt)")
    parser.add_argument("--config", required=True, type=Path, metavar="CONFIG",
                        help="the workflow config the model was trained with (extractor settings)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: beside the video)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    result = parse_video(args.video, args.checkpoint, args.config, args.out, device=args.device)
    print(json.dumps({k: result[k] for k in ("video", "duration_s", "windows", "outputs")}
                     | {"events": len(result["events"])}, indent=2))
    return 0
