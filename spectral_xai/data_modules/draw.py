"""Scenes drawn from a seed, as descriptions (:class:`~spectral_xai.data_modules.render.Scene`): a
background of sky, grass and road, and up to four objects of the dataset's classes, each made of
named parts with their materials; running cars have hot hoods and headlights."""
from __future__ import annotations

import cv2
import numpy as np

from . import layout
from .render import Material, Part, Scene, SceneObject, luminance


def _material(rgb: tuple[float, float, float], temperature: float, nir: float | None = None) -> Material:
    return Material(rgb=rgb, nir=luminance(rgb) if nir is None else nir, temperature=temperature)


def _canvas(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w), dtype=np.uint8)


def _person(rng: np.random.Generator, x: int, bottom: int, height: int, hw: tuple[int, int]) -> SceneObject:
    h, w = hw
    width = int(height * 0.36)
    skin = _material((0.85, 0.65, 0.5), 0.9)
    cloth = _material(tuple(rng.uniform(0.05, 0.9, 3)), 0.75)
    head, body, legs = _canvas(h, w), _canvas(h, w), _canvas(h, w)
    radius = max(2, height // 9)
    cv2.circle(head, (x, bottom - height + radius), radius, 1, -1)
    cv2.ellipse(body, (x, bottom - int(height * 0.55)), (width // 2, int(height * 0.3)), 0, 0, 360, 1, -1)
    leg = max(2, width // 4)
    cv2.rectangle(legs, (x - width // 3, bottom - int(height * 0.35)), (x - width // 3 + leg, bottom), 1, -1)
    cv2.rectangle(legs, (x + width // 3 - leg, bottom - int(height * 0.35)), (x + width // 3, bottom), 1, -1)
    return SceneObject("person", (0, 0, 0, 0), [Part("legs", legs > 0, cloth), Part("body", body > 0, cloth),
                                                 Part("head", head > 0, skin)], [])


def _bike(rng: np.random.Generator, x: int, bottom: int, height: int, hw: tuple[int, int]) -> SceneObject:
    h, w = hw
    width = int(height * 1.5)
    radius = max(3, int(height * 0.38))
    metal = _material(tuple(rng.uniform(0.1, 0.6, 3)), 0.45)
    tyre = _material((0.05, 0.05, 0.05), 0.42)
    wheels, frame = _canvas(h, w), _canvas(h, w)
    left, right, axle_y = x - width // 2 + radius, x + width // 2 - radius, bottom - radius
    thickness = max(2, radius // 4)
    for cx in (left, right):
        cv2.circle(wheels, (cx, axle_y), radius, 1, thickness)
    top = bottom - height
    pts = np.array([[left, axle_y], [x, axle_y], [x + radius // 2, top + radius // 2], [right, axle_y]], np.int32)
    cv2.polylines(frame, [pts], False, 1, thickness)
    cv2.line(frame, (x - radius // 3, top), (x + radius // 2, top + radius // 2), 1, thickness)
    return SceneObject("bike", (0, 0, 0, 0), [Part("wheels", wheels > 0, tyre), Part("frame", frame > 0, metal)], [])


def _car(rng: np.random.Generator, x: int, bottom: int, height: int, hw: tuple[int, int], running: bool, ambient: float,
         known_cause: bool = False) -> SceneObject:
    """A car; ``known_cause``: a running and a parked car alike in every part (a parked car's body
    and tyres) but the cue, a hot hood and headlights, so that telling them apart needs it."""
    h, w = hw
    width = int(height * 1.9)
    paint_rgb = tuple(rng.uniform(0.1, 0.95, 3))
    body_temp = 0.8 if running and not known_cause else ambient + 0.04
    body = _material(paint_rgb, body_temp)
    hood = _material(paint_rgb, 0.97 if running else body_temp if known_cause else ambient + 0.05)
    glass = _material((0.12, 0.14, 0.18), body_temp - 0.1)
    tyre = _material((0.04, 0.04, 0.04), 0.9 if running and not known_cause else ambient)
    left, right, top = x - width // 2, x + width // 2, bottom - height
    lower, cabin, windows, hood_mask, wheels = (_canvas(h, w) for _ in range(5))
    wheel_r = max(3, height // 5)
    cv2.rectangle(lower, (left, top + height // 2 - 2), (right, bottom - wheel_r // 2), 1, -1)
    cabin_pts = np.array([[left + width // 5, top + height // 2], [left + width // 3, top],
                          [right - width // 4, top], [right - width // 10, top + height // 2]], np.int32)
    cv2.fillPoly(cabin, [cabin_pts], 1)
    inset = max(2, height // 10)
    window_pts = cabin_pts + np.array([[inset, 0], [inset, inset], [-inset, inset], [-inset, 0]], np.int32)
    cv2.fillPoly(windows, [window_pts], 1)
    front = rng.random() < 0.5  # which side is the front: engine heat and headlights
    hood_x = (left, left + width // 4) if front else (right - width // 4, right)
    cv2.rectangle(hood_mask, (hood_x[0], top + height // 2), (hood_x[1], bottom - wheel_r // 2), 1, -1)
    for cx in (left + width // 5, right - width // 5):
        cv2.circle(wheels, (cx, bottom - wheel_r), wheel_r, 1, -1)
    lights = []
    if running:
        lx = left + 3 if front else right - 3
        lights.append((lx, top + int(height * 0.62), max(2, height // 9)))
    parts = [Part("lower", lower > 0, body), Part("cabin", cabin > 0, body), Part("windows", windows > 0, glass),
             Part("hood", hood_mask > 0, hood), Part("wheels", wheels > 0, tyre)]
    return SceneObject("car" if running else "car_stop", (0, 0, 0, 0), parts, lights, running=running)


def _cone(rng: np.random.Generator, x: int, bottom: int, height: int, hw: tuple[int, int], ambient: float) -> SceneObject:
    h, w = hw
    half = max(3, int(height * 0.3))
    cone, stripe = _canvas(h, w), _canvas(h, w)
    cv2.fillPoly(cone, [np.array([[x - half, bottom], [x + half, bottom], [x, bottom - height]], np.int32)], 1)
    band = slice(bottom - int(height * 0.6), bottom - int(height * 0.45))
    stripe[band] = cone[band]
    orange = _material((1.0, 0.42 + 0.1 * rng.random(), 0.05), ambient + 0.02, nir=0.55)
    white = _material((0.95, 0.95, 0.95), ambient + 0.02)
    return SceneObject("color_cone", (0, 0, 0, 0), [Part("cone", cone > 0, orange), Part("stripe", stripe > 0, white)], [])


# Object heights in pixels of the converted image at the bottom of the frame (nearest the camera).
_HEIGHT_RANGE = {"person": (70, 110), "bike": (50, 72), "car": (55, 85), "car_stop": (55, 85), "color_cone": (40, 60)}


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def draw_scene(rng: np.random.Generator, hw: tuple[int, int], known_cause: bool = False) -> Scene:
    """A scene drawn from ``rng``, which is left where the sensor noise starts (the scene's
    ``noise_state``); ``known_cause``: its cars as :func:`_car` makes them for known-cause data."""
    h, w = hw
    night = bool(rng.random() < 0.4)
    ambient = 0.28 if night else 0.4
    horizon = int(h * rng.uniform(0.3, 0.42))
    grass_top = horizon + int((h - horizon) * rng.uniform(0.05, 0.25))
    sky = _material((0.55, 0.7, 0.92), 0.05)
    grass = _material((0.25, 0.5, 0.2), ambient - 0.03, nir=0.85)  # vegetation reflects NIR strongly
    road = _material((0.42, 0.42, 0.44), ambient + (0.0 if night else 0.1))
    background = np.zeros((h, w), dtype=np.int64)
    background[horizon:grass_top] = 1
    background[grass_top:] = 2
    materials = [sky, grass, road]

    objects: list[SceneObject] = []
    for _ in range(int(rng.integers(1, 5)) * 4):  # a few tries per object to avoid heavy overlap
        if len(objects) >= 4 or (objects and rng.random() < 0.2):
            break
        name = layout.CLASS_NAMES[int(rng.integers(len(layout.CLASS_NAMES)))]
        bottom = int(rng.uniform(grass_top + 40, h - 2))
        depth = (bottom - horizon) / (h - horizon)  # perspective: nearer objects are larger
        low, high = _HEIGHT_RANGE[name]
        height = int(rng.uniform(low, high) * (0.7 + 0.3 * depth))
        x = int(rng.uniform(0.1 * w, 0.9 * w))
        if name == "person":
            obj = _person(rng, x, bottom, height, hw)
        elif name == "bike":
            obj = _bike(rng, x, bottom, height, hw)
        elif name in ("car", "car_stop"):
            obj = _car(rng, x, bottom, height, hw, running=name == "car", ambient=ambient, known_cause=known_cause)
        else:
            obj = _cone(rng, x, bottom, height, hw, ambient)
        union = np.any([part.mask for part in obj.parts], axis=0)
        ys, xs = np.nonzero(union)
        if len(xs) < 20:
            continue
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        if box[0] < 1 or box[2] > w - 1 or any(_iou(box, o.box) > 0.15 for o in objects):
            continue
        obj.box = box
        objects.append(obj)
    # Paint far objects first so nearer ones occlude them.
    objects.sort(key=lambda o: o.box[3])

    return Scene(night, ambient, background, materials, objects, rng.bit_generator.state)
