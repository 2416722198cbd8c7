"""Synthetic scenes as descriptions, and the cameras that image them, apart, so that a scene can be
imaged again with one thing changed and nothing else.

A :class:`Scene` is drawn once from a seed: objects made of named parts (each a mask and a material:
colour, near-infrared reflectance, temperature), the headlights of running cars, a background of
sky, grass and road, day or night; and where the sensor noise starts in the seed's stream.
:func:`render` images it in every spectrum, so the spectra differ the way the physics does:

- RGB sees colour under daylight or, at night, a dim scene lit by the headlights of running cars;
- NIR follows RGB luminance but vegetation reflects strongly, and it is dim at night too;
- FIR sees temperature only, blurred (thermal sensors resolve less), the same by day and night:
  people and running cars are warm, stopped cars near ambient, colour cones almost invisible;
- MIR mixes emitted heat with reflected light.

``render(scene, change)`` images the scene with one :class:`Change` (a part removed and painted
with what lies behind it, an object removed, a running car's cue switched off, the context around
an object removed), in every spectrum or in the ones the change names, with the same sensor noise:
the difference to the unchanged images is that change's and nothing else's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from .layout import SPECTRA

CHANGES = ("part", "object", "cue", "context")


@dataclass(frozen=True)
class Material:
    rgb: tuple[float, float, float]
    nir: float
    temperature: float  # 0 (cold sky) .. 1 (body heat and engines)


@dataclass
class Part:
    name: str  # unique within its object: "hood", "wheels", "head", ...
    mask: np.ndarray  # [H, W] bool
    material: Material


@dataclass
class SceneObject:
    name: str  # its class
    box: tuple[float, float, float, float]
    parts: list[Part]  # painted in order: a later part covers an earlier one
    lights: list[tuple[int, int, int]]  # headlight centres and radii (x, y, r)
    # A running car's cue: its engine heat (the hood's temperature above the body's) and headlights.
    running: bool = False

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"{self.name} has no part {name!r}: it has {', '.join(p.name for p in self.parts)}")


@dataclass
class Scene:
    night: bool
    ambient: float  # the temperature of things that make no heat of their own
    background: np.ndarray  # [H, W] index into ``background_materials`` (sky, grass, road)
    background_materials: list[Material]
    objects: list[SceneObject]  # painted far first, so that nearer ones occlude them
    noise_state: dict[str, Any] = field(default_factory=dict)  # the seed's stream where the sensor noise starts

    @property
    def size(self) -> tuple[int, int]:
        return self.background.shape


@dataclass(frozen=True)
class Change:
    """What a counterfactual render changes: ``part`` (``target``'s part named ``part`` removed),
    ``object`` (``target`` removed), ``cue`` (a running car's engine heat down to its body's
    temperature, its headlights and their glow off) or ``context`` (the background around every
    object, sky, grass and road, replaced by a flat one of its mean colour at ambient temperature;
    ``target`` names the object whose context it is); in ``spectra`` only, or in every one."""

    kind: str
    target: int  # the object's index in :attr:`Scene.objects`
    part: str | None = None
    spectra: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHANGES:
            raise ValueError(f"change {self.kind!r}: choose one of {', '.join(CHANGES)}")
        if (self.kind == "part") != (self.part is not None):
            raise ValueError("a part change names its part, and only a part change does")
        if self.spectra is not None and set(self.spectra) - set(SPECTRA):
            raise ValueError(f"spectra {list(self.spectra)}: choose among {', '.join(SPECTRA)}")


def changed_scene(scene: Scene, change: Change) -> Scene:
    """The scene as the change leaves it (its noise untouched)."""
    objects = list(scene.objects)
    if not 0 <= change.target < len(objects):
        raise IndexError(f"change of object {change.target}: the scene has {len(objects)} objects")
    target = objects[change.target]
    if change.kind == "part":
        target.part(change.part)  # a part it does not have is a mistake, not a no-op
        objects[change.target] = replace(target, parts=[p for p in target.parts if p.name != change.part])
    elif change.kind == "object":
        del objects[change.target]
    elif change.kind == "cue":
        objects[change.target] = cue_off(target)
    else:
        flat = Material(tuple(float(v) for v in _background_mean(scene)), float(luminance(_background_mean(scene))),
                        scene.ambient)
        return replace(scene, background=np.zeros_like(scene.background), background_materials=[flat])
    return replace(scene, objects=objects)


def cue_off(car: SceneObject) -> SceneObject:
    """A running car as it would be with its engine cold: the hood at the body's temperature, no lights."""
    if not car.running:
        raise ValueError(f"a {car.name} has no running engine to switch off")
    body = car.part("lower").material.temperature
    parts = [replace(p, material=replace(p.material, temperature=body)) if p.name == "hood" else p for p in car.parts]
    return replace(car, parts=parts, lights=[], running=False)


def render(scene: Scene, change: Change | None = None, noise: np.random.Generator | None = None,
           noise_seed: int | None = None) -> dict[str, np.ndarray]:
    """Every spectrum's image of ``scene`` (in [0, 1]; RGB [H, W, 3], the others [H, W]) with
    ``change``. The sensor noise comes from ``noise`` (the writer's own stream, which it advances),
    else from another seed's stream (``noise_seed``: the noise of a change's effect), else from the
    scene's own, so that a render without change equals the written images to the byte."""
    if noise is None:
        noise = np.random.default_rng()
        if noise_seed is None:
            noise.bit_generator.state = scene.noise_state
        else:
            noise = np.random.default_rng(noise_seed)
    if change is None:
        return _image(scene, noise)
    state = noise.bit_generator.state
    changed = _image(changed_scene(scene, change), noise)
    if change.spectra is None:
        return changed
    noise.bit_generator.state = state
    original = _image(scene, noise)
    return {name: changed[name] if name in change.spectra else original[name] for name in SPECTRA}


def luminance(rgb: Any) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _background_mean(scene: Scene) -> np.ndarray:
    colours = np.asarray([m.rgb for m in scene.background_materials], np.float32)
    return colours[scene.background].reshape(-1, 3).mean(axis=0)


def _materials(scene: Scene) -> dict[str, np.ndarray]:
    """The scene's colour, NIR reflectance and temperature per pixel, objects painted over the background."""
    materials = scene.background_materials
    rgb = np.asarray([m.rgb for m in materials], np.float32)[scene.background]
    nir = np.asarray([m.nir for m in materials], np.float32)[scene.background]
    temp = np.asarray([m.temperature for m in materials], np.float32)[scene.background]
    for obj in scene.objects:
        for part in obj.parts:
            rgb[part.mask], nir[part.mask], temp[part.mask] = part.material.rgb, part.material.nir, part.material.temperature
    return {"rgb": rgb, "nir": nir, "temperature": temp}


def _glow(scene: Scene) -> np.ndarray:
    h, w = scene.size
    glow = np.zeros((h, w), np.float32)
    for obj in scene.objects:
        for lx, ly, radius in obj.lights:
            spot = np.zeros((h, w), np.float32)
            cv2.circle(spot, (lx, ly), radius, 1.0, -1)
            glow += cv2.GaussianBlur(spot, (0, 0), radius * (2.0 if scene.night else 0.6))
    return np.clip(glow * (2.5 if scene.night else 0.8), 0, 1)


def _image(scene: Scene, rng: np.random.Generator) -> dict[str, np.ndarray]:
    h, w = scene.size
    painted, glow = _materials(scene), _glow(scene)
    light = 0.12 if scene.night else 1.0

    def noise(sigma: float, channels: int = 1) -> np.ndarray:
        shape = (h, w, channels) if channels > 1 else (h, w)
        return rng.normal(0.0, sigma, shape).astype(np.float32)

    rgb = painted["rgb"] * light + glow[..., None] * np.array([1.0, 0.95, 0.8], np.float32) + noise(0.02, 3)
    nir = painted["nir"] * (0.18 if scene.night else 0.95) + 0.8 * glow + noise(0.02)
    temp = painted["temperature"]
    fir = cv2.GaussianBlur(temp, (0, 0), 1.6) + noise(0.015)
    luminance = painted["rgb"] @ np.array([0.299, 0.587, 0.114], np.float32)
    mir = cv2.GaussianBlur(0.75 * temp + 0.25 * luminance * light, (0, 0), 1.0) + noise(0.02)
    return {name: np.clip(img, 0.0, 1.0) for name, img in (("rgb", rgb), ("nir", nir), ("mir", mir), ("fir", fir))}
