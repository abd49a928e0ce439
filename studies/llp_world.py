"""A feature-level world with LLP's own events, where the audio branch is strong.

The demo renders videos; this world skips the videos and writes parser inputs straight from
events, so that a question about losses can be asked where the answer is not limited by the
demo's features. Its events are LLP's: the dense audio and visual labels of LLP's val and test
videos (1,849 videos with second-level truth, ../shared/llp), with their real weak labels (about
95% audio-precise and 63-65% visual-precise). They are shuffled with the world seed and split
into train / val / test; the train split keeps its dense truth, which only the studies read (as
the oracle audio labels).

Inputs, per second t (C = 25 classes, each with its own random prototype per input):
  audio     [T, 128]  Σ_c A_tc·a_c + N(0, audio_noise²)          (strong: audio_noise 1.0)
  visual_2d [8T, 64]  Σ_c V_tc·v_c + N(0, visual_noise²), 8 frames a second, independent noise
  visual_3d [T, 64]   Σ_c V_tc·m_c + N(0, visual_noise²)
plus a background vector per video and input, constant over its seconds (the clip's scene).

Pseudo labels, drawn once per world (never from a trained model):
  visual, CLIP-like  Ŷ_tc = y_c · 1[V_tc + N(0, σ_v²) + b_vc > 0.5], b_vc ~ N(0, σ_b²) a per
                     (video, class) offset (CLIP's class-level errors); σ_v, σ_b fixed so that
                     val quality is near the paper's Table I-II for CLIP PLG (video P 83.8, R 81.2,
                     segment F 70.3): printed by `quality()`, not tuned per study.
  audio, CLAP-like   Ŷ^a_tc = y_c · 1[A_tc + N(0, σ_a²) > 0.5], segment F near 85.

    .venv/bin/python studies/llp_world.py      # prints the world's label quality
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from vplan_core.data.dataset import Features, SplitData, subset_split
from vplan_core.data.annotations import Split, load_split
from vplan_core.data.description import LLP
from vplan_core.evaluation.label_quality import segment_event_f, video_level_precision_recall

SIZES = {"train": 800, "val": 300, "test": 749}  # of LLP's 1,849 densely labelled videos
BATCH_SIZE = 32  # the paper's (the demo config's 16 is for its 200 videos)
FRAMES = 8
DIMS = {"audio": 128, "visual_2d": 64, "visual_3d": 64}


@dataclass(frozen=True)
class WorldSettings:
    seed: int = 0
    audio_noise: float = 1.0
    visual_noise: float = 2.0
    background: float = 1.0
    clip_segment_noise: float = 0.2
    clip_class_noise: float = 0.5
    clap_segment_noise: float = 0.4


@dataclass
class World:
    splits: dict[str, SplitData]  # train keeps gt_audio / gt_visual (the studies' oracle)
    clip_labels: np.ndarray  # [N_train, T, C] uint8
    clap_labels: np.ndarray

    def video_label_as_audio(self) -> np.ndarray:
        """The weak label copied to every second: row ④'s audio target, as segment labels."""
        weak = self.splits["train"].split.weak_labels
        return np.repeat(weak[:, None, :], LLP.segments, axis=1).astype(np.uint8)


def _features(rng: np.random.Generator, prototypes: dict[str, np.ndarray], gt_audio: np.ndarray,
              gt_visual: np.ndarray, s: WorldSettings) -> dict[str, np.ndarray]:
    n = gt_audio.shape[0]
    out = {}
    for name, events, noise, per_second in (("audio", gt_audio, s.audio_noise, 1),
                                            ("visual_2d", gt_visual, s.visual_noise, FRAMES),
                                            ("visual_3d", gt_visual, s.visual_noise, 1)):
        signal = np.repeat(events.astype(np.float32) @ prototypes[name], per_second, axis=1)
        scene = rng.normal(0.0, s.background, (n, 1, DIMS[name]))
        out[name] = (signal + scene + rng.normal(0.0, noise, signal.shape)).astype(np.float32)
    return out


def _pseudo_labels(rng: np.random.Generator, truth: np.ndarray, weak: np.ndarray, segment_noise: float,
                   class_noise: float) -> np.ndarray:
    score = truth + rng.normal(0.0, segment_noise, truth.shape) + rng.normal(0.0, class_noise, (truth.shape[0], 1, LLP.num_classes))
    return ((score > 0.5) & weak[:, None, :].astype(bool)).astype(np.uint8)


def make_world(llp_dir: str, settings: WorldSettings = WorldSettings()) -> World:
    rng = np.random.default_rng(settings.seed)
    parts = [load_split(llp_dir, name) for name in ("val", "test")]
    pool = Split("pool", sum((p.filenames for p in parts), []), sum((p.video_ids for p in parts), []),
                 np.concatenate([p.weak_labels for p in parts]), np.concatenate([p.gt_audio for p in parts]),
                 np.concatenate([p.gt_visual for p in parts]))
    order = rng.permutation(len(pool.video_ids))
    prototypes = {name: rng.normal(0.0, 1.0, (LLP.num_classes, dim)).astype(np.float32) for name, dim in DIMS.items()}
    splits, start = {}, 0
    for name, size in SIZES.items():
        part = subset_split(pool, order[start:start + size].tolist())
        part.name, start = name, start + size
        features = Features(part.video_ids, **_features(rng, prototypes, part.gt_audio, part.gt_visual, settings))
        splits[name] = SplitData(part, features, 0)
    train = splits["train"].split
    clip = _pseudo_labels(rng, train.gt_visual, train.weak_labels, settings.clip_segment_noise, settings.clip_class_noise)
    clap = _pseudo_labels(rng, train.gt_audio, train.weak_labels, settings.clap_segment_noise, 0.0)
    return World(splits, clip, clap)


def quality(world: World) -> dict[str, dict]:
    """Train-split quality of each label set against its modality's truth (Tables I-II's figures)."""
    train = world.splits["train"].split
    sets = {"clip (visual)": (world.clip_labels, train.gt_visual),
            "video label (visual)": (np.repeat(train.weak_labels[:, None], LLP.segments, 1), train.gt_visual),
            "clap (audio)": (world.clap_labels, train.gt_audio),
            "video label (audio)": (world.video_label_as_audio(), train.gt_audio)}
    return {name: {**video_level_precision_recall(labels.max(axis=1), truth), **segment_event_f(labels, truth)}
            for name, (labels, truth) in sets.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llp", default="../shared/llp")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for name, q in quality(make_world(args.llp, WorldSettings(seed=args.seed))).items():
        print(f"{name:22s} " + " ".join(f"{k} {v:.1f}" for k, v in q.items()))


if __name__ == "__main__":
    main()
