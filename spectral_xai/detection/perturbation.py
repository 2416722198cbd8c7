"""Scoring many perturbed copies of one image, chunk by chunk.

Every perturbation method and the insertion/deletion metric build ``image * mask + substrate *
(1 - mask)`` for a stream of masks and ask the scorer about each; a substrate that depends on the
mask (ROAD's imputation) is a function of the chunk's masks. Only one chunk of masks and
images exists at a time, so memory does not grow with the number of masks.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import torch

from .detector import Target
from .scoring import DetectionScorer, Match


def perturbed_matches(
    scorer: DetectionScorer,
    image: torch.Tensor,
    targets: Sequence[Target],
    mask_chunks: Iterable[torch.Tensor],
    substrate: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[tuple[torch.Tensor, list[Match]]]:
    """For each chunk of masks [n, 1, H, W] (1 keeps the image), yield it with each target's
    matches; all targets share one detector pass per perturbed image."""
    for masks in mask_chunks:
        masks = masks.to(image)
        perturbed = image[None] * masks
        if callable(substrate):
            perturbed = perturbed + substrate(masks) * (1 - masks)
        elif substrate is not None:
            perturbed = perturbed + substrate[None] * (1 - masks)
        yield masks, scorer.match_all(perturbed, targets)
