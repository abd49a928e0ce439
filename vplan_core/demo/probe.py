"""Linear probes on demo features: what a backbone's per-segment features know about the classes.

A probe is a 26-way softmax regression (the 25 classes and "nothing") on one feature vector per
segment: the mean over a segment's frames for the 2D CNN, the segment's clip for R(2+1)D, the
segment's example for VGGish. Its targets are what is really on screen (or heard) in the
segment, from the scenarios: every object at least half inside the frame for at least half
of the second, labelled or not (a backbone sees unlabelled objects too), or "nothing". It is
trained on the train split's segments and scored on another split's, separately on segments
that show something (correct when the top class is one of the objects shown) and on segments
that show nothing (correct when the top class is "nothing"). Features are standardised with
the training segments' statistics, so random backbones (tiny, arbitrary scales) are not
handicapped by their scale.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vplan_core.demo.scenarios import visible_segments
from vplan_core.data.llp import CLASS_INDEX, NUM_CLASSES, NUM_SEGMENTS

NOTHING = NUM_CLASSES


def segment_targets(scenario: dict, modality: str) -> np.ndarray:
    """bool [10, 26]: the classes shown (modality "visual", labelled or not) or heard
    ("audio") in each segment, and "nothing" where there is none."""
    out = np.zeros((NUM_SEGMENTS, NUM_CLASSES + 1), dtype=bool)
    for e in scenario["events"]:
        if e[modality] is not None:
            out[e[modality][0]:e[modality][1], CLASS_INDEX[e["class"]]] = True
    if modality == "visual":
        for d in scenario["render"].get("distractors", []):
            out[visible_segments(d, d["class"]), CLASS_INDEX[d["class"]]] = True
    out[:, NOTHING] = ~out[:, :NUM_CLASSES].any(axis=1)
    return out


def segment_features(features: np.ndarray) -> np.ndarray:
    """[N, units, D] -> [N, 10, D]: the mean of each segment's units (80 frames -> 10)."""
    n, units, d = features.shape
    return features.reshape(n, NUM_SEGMENTS, units // NUM_SEGMENTS, d).mean(axis=2)


def linear_probe(train_x: np.ndarray, train_t: np.ndarray, test_x: np.ndarray, test_t: np.ndarray,
                 steps: int = 300, weight_decay: float = 1e-3, seed: int = 0) -> dict:
    """Fit a softmax regression on (train_x [M, D], train_t bool [M, 26]) and score test_x.

    Targets with several true classes are spread evenly over them. Returns accuracies (%) on
    the test segments that show something, on those that show nothing, and on all.
    """
    mean, std = train_x.mean(0), train_x.std(0) + 1e-8
    x = torch.tensor((train_x - mean) / std, dtype=torch.float32)
    t = torch.tensor(train_t / train_t.sum(1, keepdims=True), dtype=torch.float32)
    torch.manual_seed(seed)
    layer = torch.nn.Linear(x.shape[1], t.shape[1])
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.01, weight_decay=weight_decay)
    for _ in range(steps):
        loss = -(t * F.log_softmax(layer(x), dim=1)).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        top = layer(torch.tensor((test_x - mean) / std, dtype=torch.float32)).argmax(1).numpy()
    correct = test_t[np.arange(len(top)), top]
    shown = ~test_t[:, NOTHING]
    return {"shown": round(100 * float(correct[shown].mean()), 2) if shown.any() else None,
            "nothing": round(100 * float(correct[~shown].mean()), 2) if (~shown).any() else None,
            "all": round(100 * float(correct.mean()), 2),
            "segments": {"shown": int(shown.sum()), "nothing": int((~shown).sum())}}


def probe_features(scenarios: list[dict], features: dict[str, np.ndarray], modality: str,
                   test_split: str = "test") -> dict:
    """Probe per-video features (video_id -> [units, D]) of the train split, scored on test_split."""
    def split(name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = [s for s in scenarios if s["split"] == name and s["video_id"] in features]
        x = segment_features(np.stack([features[s["video_id"]] for s in rows]))
        t = np.stack([segment_targets(s, modality) for s in rows])
        return x.reshape(-1, x.shape[-1]), t.reshape(-1, t.shape[-1])

    return linear_probe(*split("train"), *split(test_split))
