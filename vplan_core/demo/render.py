"""What each demo class looks like, and the frames of a demo clip.

Every class is a rendered object with its own (shape, colour, texture): 13 colours (12 hues and
white) carry most of the identity, and the two classes that share a colour differ in both shape
and texture, with shapes chosen to stay apart at CLIP's low input resolution. A small CLIP can
therefore learn the classes from a few thousand images. Objects sit on clutter: textured noise
plus muted blobs and lines that are no class object, so "something is there" alone does not
identify a class and frames without objects still look busy.

Object geometry in a scenario is resolution independent (fractions of the frame height, x as a
fraction of the width) and objects stay inside the central square of a 4:3 frame, the part a
CLIP centre crop keeps.
"""
from __future__ import annotations

import colorsys
import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from vplan_core.data.llp import CLASSES

SHAPES = ("circle", "triangle", "ring", "square", "star", "cross", "crescent", "diamond")
# 12 saturated hues 30 degrees apart, then white; the clutter is muted, so no colour is shared.
COLOURS = tuple(tuple(int(round(255 * v)) for v in colorsys.hsv_to_rgb(h / 12, 0.9, 0.95))
                for h in range(12)) + ((248, 248, 248),)
TEXTURES = ("solid", "stripes", "dots", "checker")
OBJECT_SCALE = (0.11, 0.2)  # object radius as a fraction of the frame height
MAX_ANGLE = math.radians(20)  # rotation jitter, so orientation is no class cue
SUPERSAMPLE = 4  # shape masks are drawn 4x larger and box-filtered: anti-aliased edges


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


class ClipRenderer:
    """Frames of one scenario; background and sprites are built once, frames only paste.

    size is (width, height). Objects of events whose visual span covers t are drawn, each
    moving linearly from its start position by its velocity (fractions per second).
    """

    def __init__(self, scenario: dict, size: tuple[int, int] = (192, 144)):
        self.width, self.height = size
        render = scenario["render"]
        rng = np.random.default_rng(render["background_seed"])
        self.background = clutter(rng, self.height, self.width)
        self.objects = []
        for event in scenario["events"]:
            if event["visual"] is None:
                continue
            obj = render["objects"][event["class"]]
            sprite = object_sprite(CLASSES.index(event["class"]), obj["scale"] * self.height,
                                   obj["angle"])
            self.objects.append((event["visual"], obj, sprite))

    def frame(self, t: float) -> np.ndarray:
        """uint8 [H, W, 3] at time t seconds."""
        out = self.background.copy()
        for (onset, offset), obj, sprite in self.objects:
            if onset <= t < offset:
                cx = (obj["x"] + obj["vx"] * t) * self.width
                cy = (obj["y"] + obj["vy"] * t) * self.height
                paste(out, sprite, cx, cy)
        return out


def render_frame(scenario: dict, t_seconds: float, size: tuple[int, int] = (192, 144)) -> np.ndarray:
    """One frame of a scenario, uint8 [H, W, 3]; size is (width, height)."""
    return ClipRenderer(scenario, size).frame(t_seconds)


def render_object_image(class_index: int | None, rng: np.random.Generator,
                        size: int = 144) -> np.ndarray:
    """A square uint8 [size, size, 3] image: one class object over clutter (None: clutter only).

    Matches what CLIP sees of a demo frame: the square is the centre crop of a 4:3 frame, and
    object scale, rotation and the clutter follow the clip distributions of scenarios.py.
    """
    img = clutter(rng, size, size)
    if class_index is not None:
        radius = rng.uniform(*OBJECT_SCALE) * size
        cx, cy = rng.uniform(radius, size - radius, 2)
        paste(img, object_sprite(class_index, radius, rng.uniform(-MAX_ANGLE, MAX_ANGLE)), cx, cy)
    return img

