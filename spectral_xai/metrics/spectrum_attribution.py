"""How much each spectrum of an input carries a detection.

For an input of several spectra (3 channels each, stacked), the target's score (under the run's
scoring rule) with one spectrum's channels replaced by the deletion substrate, and with only that
spectrum kept and every other one replaced. For a single-spectrum input the two are the score of
the blank substrate and the score of the image itself, which lets spectra be compared across nets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..detection import DetectionScorer, Target
from .insertion_deletion import deletion_substrate


@dataclass(frozen=True)
class SpectrumScore:
    without: float  # the target's score with this spectrum's channels replaced by the substrate
    alone: float  # the target's score with only this spectrum's channels kept


def spectrum_attribution(scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target],
                         spectra: Sequence[str]) -> list[dict[str, SpectrumScore]]:
    """Per target, ``{spectrum: SpectrumScore}`` for an image [3 x len(spectra), H, W]; the targets
    share one batched scoring of the altered images."""
    if image.shape[0] != 3 * len(spectra):
        raise ValueError(f"an input of {image.shape[0]} channels does not hold 3 channels for each of {list(spectra)}")
    substrate = deletion_substrate(image)
    variants = []
    for i in range(len(spectra)):
        channels = slice(3 * i, 3 * i + 3)
        without, alone = image.clone(), substrate.clone()
        without[channels], alone[channels] = substrate[channels], image[channels]
        variants += [without, alone]
    with torch.no_grad():
        matches = scorer.match_all(torch.stack(variants), targets)
    return [{name: SpectrumScore(*match.scores[2 * i:2 * i + 2].tolist()) for i, name in enumerate(spectra)}
            for match in matches]
