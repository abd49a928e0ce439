"""What each demo class looks like, and the frames of a demo clip.

Every class is a rendered object with its own (shape, colour, texture): 13 colours (12 hues and
white) carry most of the identity, and the two classes that share a colour differ in both shape
and texture, with shapes chosen to stay apart at CLIP's low input resolution. A small CLIP can
therefore learn the classes from a few thousand images. Objects sit on clutter: textured noise
plus muted blobs and lines that are no class object, so "something is there" alone does not
identify a class and frames without objects still look busy.

Real frames are harder than a catalogue photo, and so are demo frames (which conditions occur,
how often and why: scenarios.py). The conditions drawn here, with their probabilities
(CONDITIONS), are shared by the clips and by the single-object images that the demo CLIP and
the demo backbones learn from, as web photos and ImageNet photos show the same conditions:
- small objects (distant sources): radius 0.05-0.10 of the frame height instead of 0.11-0.20;
- partial occlusion by a foreground bar (a pole, an arm, a stand): 30-60 % of the object's width;
- low light: the whole frame at 30-55 % brightness over a raised black level;
- defocus / shake blur: a Gaussian blur of 0.6-1.5 % of the frame height (0.9-2.2 px at 144 px).
Clips add moving in and out of the frame, and unlabelled objects (scenarios.py).

Object geometry in a scenario is resolution independent (fractions of the frame height, x as a
fraction of the width, frames are 4:3). Labelled objects rest inside the central square of the
frame, the part a centre crop keeps (filmers frame the sound source); unlabelled objects may
stand anywhere, also where a centre crop cuts them off.
"""
from __future__ import annotations

import colorsys
import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from vplan_core.data.description import LLP

CLASSES = LLP.classes  # the demo world is a miniature LLP

SHAPES = ("circle", "triangle", "ring", "square", "star", "cross", "crescent", "diamond")
# 12 saturated hues 30 degrees apart, then white; the clutter is muted, so no colour is shared.
COLOURS = tuple(tuple(int(round(255 * v)) for v in colorsys.hsv_to_rgb(h / 12, 0.9, 0.95))
                for h in range(12)) + ((248, 248, 248),)
TEXTURES = ("solid", "stripes", "dots", "checker")
OBJECT_SCALE = (0.11, 0.2)  # object radius as a fraction of the frame height
SMALL_SCALE = (0.05, 0.10)  # a distant object
MAX_ANGLE = math.radians(20)  # rotation jitter, so orientation is no class cue
SUPERSAMPLE = 4  # shape masks are drawn 4x larger and box-filtered: anti-aliased edges
ASPECT = 4 / 3  # frame width / height of the scenario geometry
# Probabilities of the hard conditions (per object: small, occluded; per image or clip: dark,
# blur) and their ranges; see the module docstring and scenarios.py for the reasons.
CONDITIONS = {"small": 0.2, "occluded": 0.2, "dark": 0.15, "blur": 0.15}
OCCLUDED_COVER = (0.3, 0.6)  # share of the object's width behind the occluder
DARK_GAIN = (0.3, 0.55)
DARK_FLOOR = 6.0  # black level of a dark frame (8-bit)
BLUR_SIGMA = (0.006, 0.015)  # Gaussian sigma as a fraction of the frame height


def appearance(class_index: int) -> tuple[str, tuple[int, int, int], str]:
    """(shape, colour, texture) of a class.

    Class i has colour i % 13; classes i and i + 13 share it but have shapes five steps apart
    in SHAPES (circle/cross, triangle/crescent, ...) and textures from disjoint pairs.
    """
    n = len(COLOURS)
    return (SHAPES[class_index % len(SHAPES)], COLOURS[class_index % n],
            TEXTURES[2 * (class_index // n) + class_index % 2])


def _shape_outlines(shape: str, r: float, angle: float) -> list[tuple[list[tuple[float, float]], int]]:
    """(polygon, fill) pairs of a shape of radius r around the origin; fill 0 cuts a hole."""
    c, s = math.cos(angle), math.sin(angle)

    def rotated(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * c - y * s, x * s + y * c) for x, y in pts]

    def regular(n: int, radius: float, phase: float, dx: float = 0.0) -> list[tuple[float, float]]:
        return rotated([(dx + radius * math.cos(phase + 2 * math.pi * j / n),
                         radius * math.sin(phase + 2 * math.pi * j / n)) for j in range(n)])

    if shape == "circle":
        return [(regular(48, r, 0.0), 255)]
    if shape == "ring":
        return [(regular(48, r, 0.0), 255), (regular(48, 0.55 * r, 0.0), 0)]
    if shape == "crescent":
        return [(regular(48, r, 0.0), 255), (regular(48, 0.8 * r, 0.0, dx=0.5 * r), 0)]
    if shape == "square":
        return [(regular(4, r, math.pi / 4), 255)]
    if shape == "triangle":
        return [(regular(3, r, -math.pi / 2), 255)]
    if shape == "star":
        outer, inner = regular(5, r, -math.pi / 2), regular(5, 0.45 * r, -math.pi / 2 + math.pi / 5)
        return [([p for pair in zip(outer, inner) for p in pair], 255)]
    if shape == "diamond":
        return [(rotated([(0.0, -r), (0.5 * r, 0.0), (0.0, r), (-0.5 * r, 0.0)]), 255)]
    if shape == "cross":
        a, b = r, 0.33 * r
        return [(rotated([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a),
                          (-b, b), (-a, b), (-a, -b), (-b, -b)]), 255)]
    raise ValueError(f"unknown shape {shape!r}")


def object_sprite(class_index: int, radius_px: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(rgb float32 [h, w, 3], alpha float32 [h, w, 1]) of one class object, centred."""
    shape, colour, texture = appearance(class_index)
    n = 2 * int(math.ceil(radius_px)) + 3
    big = Image.new("L", (n * SUPERSAMPLE, n * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    centre = n * SUPERSAMPLE / 2
    for outline, fill in _shape_outlines(shape, radius_px * SUPERSAMPLE, angle):
        draw.polygon([(centre + x, centre + y) for x, y in outline], fill=fill)
    alpha = np.asarray(big.resize((n, n), Image.BOX), dtype=np.float32)[..., None] / 255.0

    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    period = max(3.0, radius_px / 2.5)
    if texture == "stripes":
        pattern = ((xx + yy) / period) % 2 < 1
    elif texture == "dots":
        dx, dy = (xx % period) - period / 2, (yy % period) - period / 2
        pattern = dx * dx + dy * dy < (0.32 * period) ** 2
    elif texture == "checker":
        pattern = ((xx // period) + (yy // period)) % 2 == 1
    else:  # solid: a soft highlight keeps it from looking like a flat distractor
        pattern = np.zeros((n, n), dtype=bool)
    main = np.asarray(colour, dtype=np.float32)
    second = main * 0.3 if max(colour) - min(colour) > 50 else np.full(3, 70.0, np.float32)
    rgb = np.where(pattern[..., None], second, main)
    if texture == "solid":
        d = np.hypot(xx - 0.4 * n, yy - 0.4 * n) / n
        rgb = rgb * (1.1 - 0.5 * d)[..., None]
    return np.clip(rgb, 0, 255).astype(np.float32), alpha


@functools.lru_cache(maxsize=8)
def _grain(height: int, width: int) -> np.ndarray:
    """A fixed int16 film-grain texture [2H, 2W, 1]; images take random windows of it (cheap)."""
    return np.random.default_rng(0).normal(0.0, 7.0, (2 * height, 2 * width, 1)).round().astype(np.int16)


def clutter(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Busy background uint8 [H, W, 3]: smooth colour noise, grain, muted blobs and lines."""
    base = rng.uniform(60, 170, size=(2, 3))
    base = 0.6 * base + 0.4 * base.mean(axis=1, keepdims=True)  # muted: no class colour
    grid = rng.random((rng.integers(3, 7), rng.integers(3, 7), 1))
    cells = Image.fromarray((base[0] + (base[1] - base[0]) * grid).astype(np.uint8))
    oy, ox = rng.integers(0, height), rng.integers(0, width)
    img = np.asarray(cells.resize((width, height), Image.BILINEAR), dtype=np.int16) \
        + _grain(height, width)[oy:oy + height, ox:ox + width]
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(3, 8)):  # blobs: ellipses, never a class shape at class colours
        c = rng.uniform(40, 200, 3)
        c = tuple(int(v) for v in 0.5 * c + 0.5 * c.mean())
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.04, 0.16, 2) * height
        draw.ellipse([cx - rx, cy - 0.4 * ry, cx + rx, cy + 0.4 * ry], fill=c)
    for _ in range(rng.integers(2, 6)):
        c = rng.uniform(30, 210, 3)
        c = tuple(int(v) for v in 0.5 * c + 0.5 * c.mean())
        x0, x1 = rng.uniform(0, width, 2)
        y0, y1 = rng.uniform(0, height, 2)
        draw.line([x0, y0, x1, y1], fill=c, width=int(rng.integers(1, 4)))
    return np.array(canvas)


def paste(canvas: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], cx: float, cy: float) -> None:
    """Alpha-blend a sprite centred at pixel (cx, cy) into canvas (in place), clipped to it."""
    rgb, alpha = sprite
    n = rgb.shape[0]
    x0, y0 = int(round(cx - n / 2)), int(round(cy - n / 2))
    h, w = canvas.shape[:2]
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if ax0 >= ax1 or ay0 >= ay1:
        return
    s = (slice(ay0 - y0, ay1 - y0), slice(ax0 - x0, ax1 - x0))
    region = canvas[ay0:ay1, ax0:ax1].astype(np.float32)
    a = alpha[s]
    canvas[ay0:ay1, ax0:ax1] = (region + a * (rgb[s] - region) + 0.5).astype(np.uint8)


def draw_scale(rng: np.random.Generator) -> float:
    """Object radius (fraction of the frame height): small with probability CONDITIONS["small"]."""
    small = rng.random() < CONDITIONS["small"]
    return float(rng.uniform(*(SMALL_SCALE if small else OBJECT_SCALE)))


def draw_occluder(rng: np.random.Generator) -> dict | None:
    """A foreground bar in front of an object (probability CONDITIONS["occluded"]), or None.

    cover: share of the object's width it hides; side: +1 covers the right part, -1 the left;
    colour: muted like the clutter (no class colour).
    """
    if rng.random() >= CONDITIONS["occluded"]:
        return None
    c = rng.uniform(40, 200, 3)
    return {"cover": float(rng.uniform(*OCCLUDED_COVER)), "side": int(rng.choice([-1, 1])),
            "colour": [int(v) for v in 0.5 * c + 0.5 * c.mean()]}


def draw_frame_effects(rng: np.random.Generator) -> dict:
    """Whole-image conditions: {"dark": gain or None, "blur": sigma (height fraction) or None}."""
    dark = float(rng.uniform(*DARK_GAIN)) if rng.random() < CONDITIONS["dark"] else None
    blur = float(rng.uniform(*BLUR_SIGMA)) if rng.random() < CONDITIONS["blur"] else None
    return {"dark": dark, "blur": blur}


def occluder_sprite(radius_px: float, occluder: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """(rgb, alpha, x offset in px from the object's centre) of an opaque foreground bar.

    The bar spans the object's height and hides `cover` of its width on side `side`.
    """
    width = max(1.0, 2 * radius_px * occluder["cover"])
    n = 2 * int(math.ceil(1.3 * radius_px)) + 3
    xs = np.arange(n, dtype=np.float32) - (n - 1) / 2
    # anti-aliased vertical edges at +-width/2, top and bottom at +-1.3 r
    col = np.clip(width / 2 + 0.5 - np.abs(xs), 0, 1)
    row = np.clip(1.3 * radius_px + 0.5 - np.abs(xs), 0, 1)
    alpha = (row[:, None] * col[None, :])[..., None].astype(np.float32)
    rgb = np.broadcast_to(np.asarray(occluder["colour"], np.float32), (n, n, 3)).copy()
    return rgb, alpha, occluder["side"] * (radius_px - width / 2)


def apply_frame_effects(frame: np.ndarray, effects: dict | None) -> np.ndarray:
    """Blur (defocus/shake) then low light, on a uint8 [H, W, 3] frame; returns a new array."""
    if not effects or (effects.get("blur") is None and effects.get("dark") is None):
        return frame
    out = frame
    if effects.get("blur") is not None:
        radius = effects["blur"] * frame.shape[0]
        out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(radius)))
    if effects.get("dark") is not None:
        out = np.clip(DARK_FLOOR + effects["dark"] * out.astype(np.float32) + 0.5, 0, 255
                      ).astype(np.uint8)
    return out


def object_position(obj: dict, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x as a fraction of the width, y as a fraction of the height) of an object at time t.

    An object rests at (x, y) and drifts by (vx, vy) a second. With "enter" it first walks in
    from outside the left (side -1) or right (+1) frame edge, reaching its drifting path
    `duration` seconds after its presence onset; with "leave" it walks out over the last
    `duration` seconds of its presence. Outside the frame means the whole object is outside.
    """
    t = np.asarray(t, dtype=np.float64)
    x, y = obj["x"] + obj["vx"] * t, obj["y"] + obj["vy"] * t
    onset, offset = obj.get("presence", (0, 10))
    outside = {-1: -obj["scale"] / ASPECT, 1: 1 + obj["scale"] / ASPECT}
    for key, edge_time, sign in (("enter", onset, 1), ("leave", offset, -1)):
        move = obj.get(key)
        if not move:
            continue
        anchor_t = edge_time + sign * move["duration"]
        ax, ay = obj["x"] + obj["vx"] * anchor_t, obj["y"] + obj["vy"] * anchor_t
        frac = np.clip((t - edge_time) / (anchor_t - edge_time), 0.0, 1.0)  # 0 at the edge time
        moving = (t < anchor_t) if sign == 1 else (t > anchor_t)
        x = np.where(moving, outside[move["side"]] + frac * (ax - outside[move["side"]]), x)
        y = np.where(moving, ay, y)
    return x, y


@functools.lru_cache(maxsize=4096)
def _shape_points(class_index: int, angle: float) -> np.ndarray:
    """[K, 2] points (x, y) covering a class's shape of radius 1 (from its 24 px sprite mask)."""
    radius = 24.0
    _, alpha = object_sprite(class_index, radius, angle)
    ys, xs = np.nonzero(alpha[..., 0] > 0.5)
    centre = (alpha.shape[0] - 1) / 2
    return np.stack([xs - centre, ys - centre], axis=1) / radius


def visible_fraction(obj: dict, class_index: int, t: float | np.ndarray) -> np.ndarray:
    """Share of the object's shape inside the frame at time(s) t (0 outside its presence).

    Occlusion does not count here: an occluder hides at most 60 % of the width, and a partly
    hidden object is still visible to an annotator.
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    points = _shape_points(int(class_index), float(obj["angle"]))
    x, y = object_position(obj, t)
    px = x[:, None] * ASPECT + obj["scale"] * points[None, :, 0]
    py = y[:, None] + obj["scale"] * points[None, :, 1]
    inside = ((px >= 0) & (px <= ASPECT) & (py >= 0) & (py <= 1)).mean(axis=1)
    onset, offset = obj.get("presence", (0, 10))
    return np.where((t >= onset) & (t < offset), inside, 0.0)


class ClipRenderer:
    """Frames of one scenario; background and sprites are built once, frames only paste.

    size is (width, height). The object of a visual event is drawn during its presence span
    (render.objects[class].presence, or the event's visual span when there is none), unlabelled
    objects (render.distractors) during theirs, each on its path (object_position) with its
    occluder in front; then the clip's blur and low light (render.effects) apply. Unlabelled
    objects are drawn behind labelled ones.
    """

    def __init__(self, scenario: dict, size: tuple[int, int] = (192, 144)):
        self.width, self.height = size
        render = scenario["render"]
        rng = np.random.default_rng(render["background_seed"])
        self.background = clutter(rng, self.height, self.width)
        # back to front: unlabelled objects (the background of the scene), then the labelled
        # ones, those that walk in or out last, so no labelled object hides behind another thing
        labelled = [(event["class"], render["objects"][event["class"]], event["visual"])
                    for event in scenario["events"] if event["visual"] is not None]
        placed = [(d["class"], d, None) for d in render.get("distractors", [])] + sorted(
            labelled, key=lambda item: bool(item[1].get("enter") or item[1].get("leave")))
        self.objects = []
        for cls, obj, visual in placed:
            radius = obj["scale"] * self.height
            sprite = object_sprite(CLASSES.index(cls), radius, obj["angle"])
            occluder = occluder_sprite(radius, obj["occluder"]) if obj.get("occluder") else None
            self.objects.append((obj.get("presence", visual), obj, sprite, occluder))
        self.effects = render.get("effects")

    def frame(self, t: float) -> np.ndarray:
        """uint8 [H, W, 3] at time t seconds."""
        out = self.background.copy()
        for (onset, offset), obj, sprite, occluder in self.objects:
            if onset <= t < offset:
                x, y = object_position(obj, t)
                cx, cy = float(x) * self.width, float(y) * self.height
                paste(out, sprite, cx, cy)
                if occluder is not None:
                    paste(out, occluder[:2], cx + occluder[2], cy)
        return apply_frame_effects(out, self.effects)


def render_frame(scenario: dict, t_seconds: float, size: tuple[int, int] = (192, 144)) -> np.ndarray:
    """One frame of a scenario, uint8 [H, W, 3]; size is (width, height)."""
    return ClipRenderer(scenario, size).frame(t_seconds)


def render_object_image(class_index: int | None, rng: np.random.Generator,
                        size: int = 144, conditions: bool = True) -> np.ndarray:
    """A square uint8 [size, size, 3] image: one class object over clutter (None: clutter only).

    Matches what a model sees of a demo frame: the square is the centre crop of a 4:3 frame,
    and object scale, rotation, occlusion, low light and blur follow the probabilities of
    CONDITIONS (conditions=False: a clean, well-lit, unoccluded object of the normal size).
    The object lies wholly inside the image: a photo is framed around its subject.
    """
    img = clutter(rng, size, size)
    effects = draw_frame_effects(rng) if conditions else None
    if class_index is not None:
        radius = (draw_scale(rng) if conditions else rng.uniform(*OBJECT_SCALE)) * size
        cx, cy = rng.uniform(radius, size - radius, 2)
        paste(img, object_sprite(class_index, radius, rng.uniform(-MAX_ANGLE, MAX_ANGLE)), cx, cy)
        occluder = draw_occluder(rng) if conditions else None
        if occluder is not None:
            rgb, alpha, dx = occluder_sprite(radius, occluder)
            paste(img, (rgb, alpha), cx + dx, cy)
    return apply_frame_effects(img, effects)
