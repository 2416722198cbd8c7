"""Known causes for the region detector's image, as a rendered scene gives them: two parts of the
detected object (the tile that drives its score and the tile under its box), another object (a tile
beside) and the context (every other pixel); rendering one away greys its pixels."""
from dataclasses import dataclass

import numpy as np
import torch

from spectral_xai.data_modules.known_causes import Cause, SceneCauses

from .region_detector import REGION_SLICE, SIZE

IMAGE = 0.6 + 0.4 * torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
TILES = {"region": REGION_SLICE, "under the box": (slice(48, 64), slice(48, 64)), "beside": (slice(0, 16), slice(0, 16))}


@dataclass(frozen=True)
class Tile:
    """The change that renders a tile away: its pixels grey."""
    where: tuple


class TileCauses:
    """The causes of ``image`` (default :data:`IMAGE`)."""

    def __init__(self, image: torch.Tensor = IMAGE) -> None:
        self.image = image

    def causes(self, obj: int) -> list[Cause]:
        found = []
        for name, kind in (("region", "part"), ("under the box", "part"), ("beside", "object")):
            visible = np.zeros((SIZE, SIZE), bool)
            visible[TILES[name]] = True
            found.append(Cause(name, kind, visible, Tile(TILES[name])))
        context = ~np.any([c.visible for c in found], axis=0)
        return [*found, Cause("context", "context", context, Tile((slice(None), slice(None))))]

    def inputs(self, changes, noise_seed=None) -> torch.Tensor:
        images = self.image[None].repeat(len(changes), 1, 1, 1)
        for image, change in zip(images, changes):
            if change is not None and change.where != (slice(None), slice(None)):
                image[(slice(None), *change.where)] = 0.0
        return images

    masks = staticmethod(SceneCauses.masks)
