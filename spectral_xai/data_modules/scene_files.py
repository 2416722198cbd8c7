"""A rendered scene's description beside its images, so that a scene can be rendered again with one
part changed long after it was written: ``Scenes/<id>.json`` (day or night, the background's
materials, each object's class, box, parts with their materials, lights, and where the sensor
noise starts) and ``Scenes/<id>_masks.png`` (the background's regions and every part's whole mask,
as the bits of one 16-bit image per four parts: a part hidden behind another keeps its own mask, so
that removing the front one shows it). The real dataset has no such folder; a scene without a
description has no known causes."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from .layout import scene_path
from .reader import DatasetError
from .render import Material, Part, Scene, SceneObject

FORMAT = 1
PARTS_PER_PLANE = 16  # one bit a part in each 16-bit plane after the background's


def _masks_path(description: Path) -> Path:
    return description.with_name(f"{description.stem}_masks.png")


def write_scene(root: Path, sample_id: str, scene: Scene) -> Path:
    """Write ``scene``'s description and masks; returns the description's path. The same scene
    writes the same bytes."""
    path = scene_path(root, sample_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [part for obj in scene.objects for part in obj.parts]
    planes = [scene.background.astype(np.uint16)]
    for start in range(0, len(parts), PARTS_PER_PLANE):
        plane = np.zeros(scene.size, np.uint16)
        for bit, part in enumerate(parts[start:start + PARTS_PER_PLANE]):
            plane |= part.mask.astype(np.uint16) << bit
        planes.append(plane)
    # PNG holds 1, 3 or 4 channels: the planes are stacked vertically in one single-channel image.
    if not cv2.imwrite(str(_masks_path(path)), np.concatenate(planes, axis=0)):
        raise OSError(f"{_masks_path(path)}: could not be written")
    description = {
        "format": FORMAT, "size": list(scene.size), "night": scene.night, "ambient": scene.ambient,
        "background_materials": [asdict(m) for m in scene.background_materials],
        "objects": [{"name": o.name, "box": list(o.box), "running": o.running, "lights": [list(light) for light in o.lights],
                     "parts": [{"name": p.name, "material": asdict(p.material)} for p in o.parts]} for o in scene.objects],
        "noise_state": scene.noise_state}
    path.write_text(json.dumps(description, indent=1))
    return path


def read_scene(root: Path, sample_id: str) -> Scene | None:
    """The scene written for ``sample_id`` under ``root``, or None where there is none (the real
    dataset). A description that cannot be read, or whose masks do not fit it, is an error naming
    the file."""
    path = scene_path(root, sample_id)
    if not path.is_file():
        return None
    try:
        description = json.loads(path.read_text())
        h, w = description["size"]
        objects = description["objects"]
        parts = sum(len(o["parts"]) for o in objects)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{path}: not a scene description ({type(err).__name__}: {err})") from None
    masks_path = _masks_path(path)
    stacked = cv2.imread(str(masks_path), cv2.IMREAD_UNCHANGED)
    count = 1 + -(-parts // PARTS_PER_PLANE)
    if stacked is None or stacked.dtype != np.uint16 or stacked.shape != (count * h, w):
        found = "missing or unreadable" if stacked is None else f"{stacked.dtype} of shape {list(stacked.shape)}"
        raise DatasetError(f"{masks_path}: masks of {path.name} must be a 16-bit image of {count * h} x {w} "
                           f"({count} planes of the scene's {h} x {w}); found {found}")
    planes = stacked.reshape(count, h, w)
    masks = [((planes[1 + i // PARTS_PER_PLANE] >> (i % PARTS_PER_PLANE)) & 1).astype(bool) for i in range(parts)]
    made, index = [], 0
    for o in objects:
        own = [Part(p["name"], masks[index + k], Material(tuple(p["material"]["rgb"]), p["material"]["nir"],
                                                          p["material"]["temperature"])) for k, p in enumerate(o["parts"])]
        index += len(own)
        made.append(SceneObject(o["name"], tuple(o["box"]), own, [tuple(light) for light in o["lights"]], o["running"]))
    materials = [Material(tuple(m["rgb"]), m["nir"], m["temperature"]) for m in description["background_materials"]]
    return Scene(description["night"], description["ambient"], planes[0].astype(np.int64), materials, made,
                 description["noise_state"])


def check_scene(scene: Scene, path: Path, size_wh: tuple[int, int], boxes: np.ndarray) -> None:
    """A description must fit its images (their size) and annotations (one object a box, in order)."""
    if scene.size != (size_wh[1], size_wh[0]):
        raise DatasetError(f"{path}: a scene of {scene.size[1]} x {scene.size[0]} pixels for images of "
                           f"{size_wh[0]} x {size_wh[1]}")
    described = np.asarray([o.box for o in scene.objects], np.float32).reshape(-1, 4)
    if described.shape != boxes.shape or not np.allclose(described, boxes, atol=0.05):
        raise DatasetError(f"{path}: describes {len(described)} objects at {described.round(1).tolist()}, the "
                           f"annotation has {len(boxes)} at {np.asarray(boxes).round(1).tolist()}")
