"""Demo scenarios: what happens in each synthetic clip, and the LLP annotation files they imply.

A scenario is the ground truth of one 10 s clip: its events (class, modality, audio and visual
spans) and the parameters that render it. The proportions follow real LLP where it matters for
VPLAN: about a third of the labelled classes are never visible (so the weak label used as a
visual label has precision near LLP's 67 %), some are never audible, and many events are
shorter than the clip. Each split draws from its own random stream, so the val and test clips of
a seed stay the same when the training set grows.

A clip is a miniature of an LLP video, not a catalogue page: its frames are as hard to read
as real ones, each difficulty for a reason real videos have (rates are per labelled visual
event unless said otherwise; they are this module's and render.CONDITIONS' constants, and
tests/test_demo_data.py checks them on the default 300 scenarios):
- small objects, 20 %: the sound source is far away (radius 0.05-0.10 of the frame height);
- partial occlusion, 20 %: someone or something stands in front (30-60 % of the width hidden);
- moving in or out of the frame, 12 % enter and 12 % leave (of the events seen for 3 s or
  more): people walk into the shot, cars drive off, the camera pans. The visual ground truth
  holds only the seconds in which the object is visible: at least half of it inside the frame
  for at least half of the second (VISIBLE_AREA, VISIBLE_TIME). The object is still drawn
  while it crosses the edge; its sound may already (or still) be heard;
- low light, 15 % of clips (30-55 % brightness): indoor and evening footage;
- blur, 15 % of clips (defocus or shake, sigma 0.6-1.5 % of the height): handheld phones;
- unlabelled objects: 30 % of clips show one and 10 % two objects of classes that are not in
  the clip's label, at any place in the frame (also where a centre crop cuts them off), with
  the same sizes, occlusion, spans and motion as labelled ones. As in LLP, where only the
  labelled classes were annotated, they are in neither the weak label nor the ground truth.
Labelled objects rest inside the central square of the 4:3 frame (filmers frame the sound
source); the demo CLIP and backbones see that square, as CLIP's centre crop does.
The conditions also occur, at the same per-object rates, in the single-object images the demo
CLIP and backbones learn from (render.render_object_image), as they do in web photos.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vplan_core import atomic
from vplan_core.atomic import write_json
from vplan_core.demo.render import (
    ASPECT,
    MAX_ANGLE,
    draw_frame_effects,
    draw_occluder,
    draw_scale,
    visible_fraction,
)
from vplan_core.data.description import LLP

CLASSES = LLP.classes  # the demo world is a miniature LLP

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
SPLITS = ("train", "val", "test")
N_EVENTS_P = (0.4, 0.4, 0.2)  # 1, 2, 3 events per clip (LLP: 1.8 labels per video)
# In LLP the invisible label is mostly an extra one (an off-screen narrator beside a visible
# dog): 63-65 % of labels are visible, yet only 10 % of videos show nothing.
MODALITY_P_FIRST = {"audio_visual": 0.8, "audio": 0.12, "visual": 0.08}
MODALITY_P_EXTRA = {"audio_visual": 0.37, "audio": 0.58, "visual": 0.05}
FULL_SPAN_P = {"audio": 0.4, "visual": 0.6}  # share of whole-clip spans, the rest 1-9 s long
MAX_DRIFT = 0.08  # how far an object moves in 10 s, as a fraction of the frame height
ENTER_P, LEAVE_P = 0.12, 0.12  # of visual events present for >= MOVE_MIN_S seconds
MOVE_MIN_S = 3
MOVE_SPEED = (0.15, 0.3)  # frame heights a second when walking in or out
VISIBLE_AREA = 0.5  # an object is visible at t when this share of it is inside the frame ...
VISIBLE_TIME = 0.5  # ... and visible in a segment when so for this share of the second
N_DISTRACTORS_P = (0.6, 0.3, 0.1)  # 0, 1, 2 unlabelled objects per clip


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


def _object(rng: np.random.Generator, placed: list[dict], anywhere: bool = False) -> dict:
    """Resting position, size, rotation, drift and occluder of one object.

    x is a fraction of the width, everything else a fraction of the height. The object stays
    wholly inside the centre square of the frame (anywhere=False: a labelled object, framed by
    whoever filmed it) or wholly inside the frame (anywhere=True: an unlabelled one); objects
    of one clip are kept apart where a few tries allow it.
    """
    for _ in range(20):
        scale = draw_scale(rng)
        r = scale / ASPECT  # radius as a fraction of the width
        half_w = 0.5 - r if anywhere else 0.375 - r  # the centre square is 3/8 of the width
        start = rng.uniform([0.5 - half_w, scale], [0.5 + half_w, 1 - scale])
        end = np.clip(start + rng.uniform(-MAX_DRIFT, MAX_DRIFT, 2) * [1 / ASPECT, 1.0],
                      [0.5 - half_w, scale], [0.5 + half_w, 1 - scale])
        apart = all(np.hypot((start[0] - o["x"]) * ASPECT, start[1] - o["y"]) > scale + o["scale"]
                    for o in placed)
        if apart:
            break
    return {"x": float(start[0]), "y": float(start[1]), "scale": scale,
            "vx": float(end[0] - start[0]) / 10, "vy": float(end[1] - start[1]) / 10,
            "angle": float(rng.uniform(-MAX_ANGLE, MAX_ANGLE)), "occluder": draw_occluder(rng)}


def _add_motion(obj: dict, presence: list[int], rng: np.random.Generator) -> None:
    """Maybe let the object walk in at its onset and/or out at its offset (ENTER_P, LEAVE_P).

    It crosses the nearer side edge at a walking pace (MOVE_SPEED, frame heights a second),
    faster where the span is short, so that it rests on screen for at least 2 s.
    """
    obj["presence"] = list(presence)
    length = presence[1] - presence[0]
    if length < MOVE_MIN_S:
        return
    moves = [key for key, p in (("enter", ENTER_P), ("leave", LEAVE_P)) if rng.random() < p]
    for key in moves:
        t = presence[0] if key == "enter" else presence[1]
        x = (obj["x"] + obj["vx"] * t) * ASPECT  # in frame heights
        side = -1 if x < ASPECT / 2 else 1
        distance = (x + obj["scale"]) if side == -1 else (ASPECT + obj["scale"] - x)
        speed = max(float(rng.uniform(*MOVE_SPEED)), distance / ((length - 2) / len(moves)))
        obj[key] = {"side": side, "duration": distance / speed}


def visible_segments(obj: dict, cls: str, steps_per_second: int = 20) -> np.ndarray:
    """bool [10]: the object (of class cls) is visible in segment s when at least VISIBLE_AREA
    of its shape is inside the frame for at least VISIBLE_TIME of the second."""
    t = (np.arange(10 * steps_per_second) + 0.5) / steps_per_second
    inside = visible_fraction(obj, CLASSES.index(cls), t) >= VISIBLE_AREA
    return inside.reshape(10, steps_per_second).mean(axis=1) >= VISIBLE_TIME


def _span_of(segments: np.ndarray) -> list[int]:
    """[onset, offset] of the visible segments (contiguous: paths are monotone at the edges)."""
    idx = np.flatnonzero(segments)
    if len(idx) == 0 or idx[-1] - idx[0] + 1 != len(idx):
        raise AssertionError(f"visible segments are empty or not contiguous: {segments}")
    return [int(idx[0]), int(idx[-1]) + 1]


def _place_objects(events: list[dict], rng: np.random.Generator) -> dict[str, dict]:
    """Objects of the visual events; each event's visual span becomes its visible seconds."""
    objects: dict[str, dict] = {}
    for e in events:
        if e["visual"] is None:
            continue
        obj = _object(rng, list(objects.values()))
        _add_motion(obj, e["visual"], rng)
        objects[e["class"]] = obj
        e["visual"] = _span_of(visible_segments(obj, e["class"]))
        if e["audio"] is not None and max(e["audio"][0], e["visual"][0]) >= min(e["audio"][1], e["visual"][1]):
            e["audio"] = list(obj["presence"])  # heard while it was there (keeps sound and sight overlapping)
    return objects


def _distractors(labelled: set[str], placed: list[dict], rng: np.random.Generator) -> list[dict]:
    """Unlabelled objects (classes not in the label): in neither the label nor the ground truth."""
    n = int(rng.choice(len(N_DISTRACTORS_P), p=N_DISTRACTORS_P))
    others = [c for c in CLASSES if c not in labelled]
    out = []
    for cls in rng.choice(others, size=n, replace=False):
        obj = _object(rng, placed + out, anywhere=True)
        _add_motion(obj, _span(rng, "visual"), rng)
        out.append({"class": str(cls), **obj})
    return out


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
            objects = _place_objects(events, rng)
            distractors = _distractors({e["class"] for e in events}, list(objects.values()), rng)
            render = {"background_seed": int(rng.integers(2**31)),
                      "audio_seed": int(rng.integers(2**31)), "objects": objects,
                      "distractors": distractors, "effects": draw_frame_effects(rng),
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

    files = {LLP.splits[split].weak: weak([s for s in scenarios if s["split"] == split]) for split in LLP.splits}
    files[LLP.other_files[0]] = weak(scenarios)  # the full list: every video
    files[LLP.splits["test"].dense_audio] = dense("audio")
    files[LLP.splits["test"].dense_visual] = dense("visual")
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
