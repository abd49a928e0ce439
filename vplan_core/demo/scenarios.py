"""Demo scenarios: what happens in each synthetic clip, and the LLP annotation files they imply.

A scenario is the ground truth of one 10 s clip: its events (class, modality, audio and visual
spans) and the parameters that render it. The proportions follow real LLP where it matters for
VPLAN: about a third of the labelled classes are never visible (so the weak label used as a
visual label has precision near LLP's 67 %), some are never audible, and many events are
shorter than the clip. Each split draws from its own random stream, so the val and test clips of
a seed stay the same when the training set grows.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vplan_core import atomic
from vplan_core.atomic import write_json
from vplan_core.demo.render import MAX_ANGLE, OBJECT_SCALE
from vplan_core.data.llp import AUDIO_EVENTS, CLASSES, SPLIT_FILES, VISUAL_EVENTS

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
SPLITS = ("train", "val", "test")
FULL_FILE = "AVVP_dataset_full.csv"
N_EVENTS_P = (0.4, 0.4, 0.2)  # 1, 2, 3 events per clip (LLP: 1.8 labels per video)
# In LLP the invisible label is mostly an extra one (an off-screen narrator beside a visible
# dog): 63-65 % of labels are visible, yet only 10 % of videos show nothing.
MODALITY_P_FIRST = {"audio_visual": 0.8, "audio": 0.12, "visual": 0.08}
MODALITY_P_EXTRA = {"audio_visual": 0.37, "audio": 0.58, "visual": 0.05}
FULL_SPAN_P = {"audio": 0.4, "visual": 0.6}  # share of whole-clip spans, the rest 1-9 s long
MAX_DRIFT = 0.08  # how far an object moves in 10 s, as a fraction of the frame height


def _span(rng: np.random.Generator, modality: str) -> list[int]:
    if rng.random() < FULL_SPAN_P[modality]:
        return [0, 10]
    length = int(rng.integers(1, 10))
    onset = int(rng.integers(0, 11 - length))
    return [onset, onset + length]


def _jittered(span: list[int], rng: np.random.Generator) -> list[int]:
    """A span near `span` that still overlaps it: sound and sight of one event rarely match."""
    while True:
        onset = int(np.clip(span[0] + rng.integers(-2, 3), 0, 9))
        offset = int(np.clip(span[1] + rng.integers(-2, 3), onset + 1, 10))
        if max(onset, span[0]) < min(offset, span[1]):
            return [onset, offset]


def _event(cls: str, rng: np.random.Generator, first: bool) -> dict:
    p = MODALITY_P_FIRST if first else MODALITY_P_EXTRA
    modality = str(rng.choice(list(p), p=list(p.values())))
    audio = _span(rng, "audio") if modality == "audio" else None
    visual = _span(rng, "visual") if modality != "audio" else None
    if modality == "audio_visual":
        audio = list(visual) if rng.random() < 0.5 else _jittered(visual, rng)
    return {"class": cls, "modality": modality, "audio": audio, "visual": visual}


def _object(rng: np.random.Generator, placed: list[dict]) -> dict:
    """Start position, size, rotation and drift of one object, inside the centre square.

    x is a fraction of the width, everything else a fraction of the height; objects of one clip
    are kept apart where a few tries allow it.
    """
    for _ in range(20):
        scale = float(rng.uniform(*OBJECT_SCALE))
        half_w = 0.375 - scale * 0.75  # half the centre square (3/8 of a 4:3 width) less the object
        start = rng.uniform([0.5 - half_w, scale], [0.5 + half_w, 1 - scale])
        end = np.clip(start + rng.uniform(-MAX_DRIFT, MAX_DRIFT, 2) * [0.75, 1.0],
                      [0.5 - half_w, scale], [0.5 + half_w, 1 - scale])
        apart = all(np.hypot((start[0] - o["x"]) / 0.75, start[1] - o["y"]) > scale + o["scale"]
                    for o in placed)
        if apart:
            break
    return {"x": float(start[0]), "y": float(start[1]), "scale": scale,
            "vx": float(end[0] - start[0]) / 10, "vy": float(end[1] - start[1]) / 10,
            "angle": float(rng.uniform(-MAX_ANGLE, MAX_ANGLE))}


def _video_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        vid = "".join(rng.choice(list(ID_ALPHABET), size=11))
        if vid not in taken:
            taken.add(vid)
            return vid


def make_scenarios(n_train: int = 200, n_val: int = 50, n_test: int = 50, seed: int = 0) -> list[dict]:
    """Scenarios of all splits (train, then val, then test), deterministic in seed."""
    scenarios, taken = [], set()
    for split_index, (split, n) in enumerate(zip(SPLITS, (n_train, n_val, n_test))):
        rng = np.random.default_rng([seed, split_index])
        for _ in range(n):
            vid = _video_id(rng, taken)
            start = int(rng.integers(0, 30)) * 10
            n_events = int(rng.choice(len(N_EVENTS_P), p=N_EVENTS_P)) + 1
            classes = rng.choice(len(CLASSES), size=n_events, replace=False)
            events = [_event(CLASSES[c], rng, j == 0) for j, c in enumerate(classes)]
            objects: dict[str, dict] = {}
            for e in events:
                if e["visual"] is not None:
                    objects[e["class"]] = _object(rng, list(objects.values()))
            render = {"background_seed": int(rng.integers(2**31)),
                      "audio_seed": int(rng.integers(2**31)), "objects": objects,
                      "gains": {e["class"]: float(rng.uniform(0.6, 1.0)) for e in events if e["audio"]}}
            scenarios.append({"split": split, "video_id": vid, "filename": f"{vid}_{start}_{start + 10}",
                              "events": events, "render": render})
    return scenarios


def _write_text(path: Path, lines: list[str]) -> None:
    """Write lines atomically (tmp file beside the target, then rename)."""
    atomic.write_text(path, "".join(line + "\n" for line in lines))


def write_llp_csvs(scenarios: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """The six LLP annotation files of the scenarios, in LLP's exact format; returns their paths.

    Weak labels are the classes of all events; dense rows (one class a row) exist for val and
    test clips only, like in LLP, where train videos carry weak labels only.
    """
    out_dir = Path(out_dir)

    def weak(rows: list[dict]) -> list[str]:
        return ["filename\tevent_labels"] + [
            f"{s['filename']}\t{','.join(e['class'] for e in s['events'])}" for s in rows]

    def dense(modality: str) -> list[str]:
        return ["filename\tonset\toffset\tevent_labels"] + [
            f"{s['filename']}\t{e[modality][0]}\t{e[modality][1]}\t{e['class']}"
            for s in scenarios if s["split"] != "train" for e in s["events"] if e[modality] is not None]

    files = {name: weak([s for s in scenarios if s["split"] == split])
             for split, name in SPLIT_FILES.items()}
    files[FULL_FILE] = weak(scenarios)
    files[AUDIO_EVENTS] = dense("audio")
    files[VISUAL_EVENTS] = dense("visual")
    paths = {}
    for name, lines in files.items():
        paths[name] = out_dir / name
        _write_text(paths[name], lines)
    return paths


def save_scenarios(scenarios: list[dict], path: str | Path) -> None:
    """JSON, written atomically: the ground truth every later demo stage reads."""
    write_json(path, scenarios)


def load_scenarios(path: str | Path) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
