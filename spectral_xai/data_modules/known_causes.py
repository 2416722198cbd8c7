"""What a rendered scene can say about its detections' causes: for an annotated object, each of its
parts, every other object and the context around it, each with where it shows in the image and the
image rendered without it, taken exactly as the dataset takes its images (stored as the files are,
read back, stacked and transformed), so that a score change is the cause's and nothing else's."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import albumentations as A
import cv2
import numpy as np
import torch

from .images import as_float_rgb
from .reader import SampleRecord
from .render import Change, Scene, render
from .scene_files import check_scene, read_scene
from .synthetic import stored


@dataclass(frozen=True)
class Cause:
    name: str  # a part's name ("hood"), another object's ("person 2") or "context"
    # "part", "object", "context", "cue" (a running car's hot hood and headlights) or, for an input of
    # several spectra, "spectrum" (the object, or its cue, rendered away in one spectrum only)
    kind: str
    visible: np.ndarray  # [H, W] bool, scene pixels: where the cause shows in the image
    change: Change  # the render without it


class SceneCauses:
    """One sample's scene, read when first asked for and checked against its images and annotations."""

    def __init__(self, record: SampleRecord, spectra: Sequence[str], transform: A.Compose):
        self.record, self.spectra, self.transform = record, tuple(spectra), transform
        self._scene: Scene | None = None
        self._owner: np.ndarray | None = None
        self._sixteen_bit: dict[str, bool] | None = None  # per spectrum, whether its file holds 16-bit counts

    @property
    def scene(self) -> Scene:
        if self._scene is None:
            scene = read_scene(self.record.scene.parents[1], self.record.sample_id)
            check_scene(scene, self.record.scene, self.record.size_wh, self.record.boxes)
            self._scene, self._owner = scene, _owner(scene)
        return self._scene

    def causes(self, obj: int) -> list[Cause]:
        """The causes of annotated object ``obj``'s detection: each of its parts, every other object,
        the context (the background around the objects) and, for a running car, its cue; for an input
        of several spectra (early fusion), also the object and its cue rendered away in each spectrum
        alone, whose effects are each spectrum's true share (:func:`spectrum_causes`)."""
        scene, owner = self.scene, self._owner
        parts = [Cause(part.name, "part", owner == _id(obj, j), Change("part", obj, part.name))
                 for j, part in enumerate(scene.objects[obj].parts)]
        others = [Cause(f"{other.name} {k}", "object", (owner // 100 == k + 1), Change("object", k))
                  for k, other in enumerate(scene.objects) if k != obj]
        found = [*parts, *others, Cause("context", "context", owner == 0, Change("context", obj))]
        car = scene.objects[obj]
        if car.running:
            cue = parts[[p.name for p in car.parts].index("hood")].visible.astype(np.uint8)
            for x, y, r in car.lights:
                cv2.circle(cue, (x, y), r, 1, -1)
            found.append(Cause("cue", "cue", cue > 0, Change("cue", obj)))
        if len(self.spectra) > 1:
            found += spectrum_causes(obj, owner // 100 == obj + 1, found[-1].visible if car.running else None,
                                     self.spectra)
        return found

    def inputs(self, changes: Sequence[Change | None], noise_seed: int | None = None) -> torch.Tensor:
        """[K, C, h, w]: the scene rendered with each change (None: none) as the dataset gives its image."""
        if self._sixteen_bit is None:
            self._sixteen_bit = {s: cv2.imread(str(self.record.paths[s]), cv2.IMREAD_UNCHANGED).dtype == np.uint16
                                 for s in self.spectra}
        images = []
        for change in changes:
            rendered = render(self.scene, change, noise_seed=noise_seed)
            stacked = np.concatenate([as_float_rgb(stored(rendered[s], self._sixteen_bit[s]), self.record.paths[s])
                                      for s in self.spectra], axis=2)
            out = self.transform(image=stacked, bboxes=np.zeros((0, 4), np.float32), labels=np.zeros(0, np.int64))
            images.append(torch.from_numpy(out["image"].transpose(2, 0, 1).copy()))
        return torch.stack(images)

    @staticmethod
    def masks(causes: Sequence[Cause], size: tuple[int, int]) -> torch.Tensor:
        """[K, h, w]: the share of each input pixel each cause covers (the image resized as the input is)."""
        return torch.from_numpy(np.stack([cv2.resize(c.visible.astype(np.float32), (size[1], size[0]),
                                                     interpolation=cv2.INTER_AREA) for c in causes]))


def spectrum_causes(obj: int, whole: np.ndarray, cue: np.ndarray | None, spectra: Sequence[str]) -> list[Cause]:
    """Object ``obj`` (pixels ``whole``) and its cue (pixels ``cue``; None for an object without one)
    rendered away in one spectrum of the input at a time, named ``object in <spectrum>`` and
    ``cue in <spectrum>``: what each spectrum of a fused input truly adds to the detection."""
    found = [Cause(f"object in {s}", "spectrum", whole, Change("object", obj, spectra=(s,))) for s in spectra]
    if cue is not None:
        found += [Cause(f"cue in {s}", "spectrum", cue, Change("cue", obj, spectra=(s,))) for s in spectra]
    return found


def _id(obj: int, part: int) -> int:
    return 100 * (obj + 1) + part


def _owner(scene: Scene) -> np.ndarray:
    """[H, W]: which object's part each pixel shows (100 (object + 1) + part), 0 for the background."""
    owner = np.zeros(scene.size, np.int64)
    for k, obj in enumerate(scene.objects):
        for j, part in enumerate(obj.parts):
            owner[part.mask] = _id(k, j)
    return owner
