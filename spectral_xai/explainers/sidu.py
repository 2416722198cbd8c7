"""SIDU for one detection (Muddamsetty et al. 2021; the reference code is SIDU_XAI_CODE)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .base import MultiTargetMethod, register
from ..settings import Setting
from ..detection import DetectionScorer, Target, perturbed_matches
from .features import features_by_level


@register("sidu")
class SIDU(MultiTargetMethod):
    """One mask per channel of the feature maps entering ``layer`` at the detection's level,
    binarised at ``threshold`` and upsampled bilinearly to the input.

    The *prediction vector* of a masked image is the class-probability vector (sigmoid of every
    class logit at its anchor) of the detection that re-identifies the target under the run's rule —
    zeros when nothing does. Why: a classifier's softmax vector, which SIDU was made for, has no
    single counterpart in a detector; the matched box's class vector is the detector's own
    statement about *that object*, and it falls to zero when the object is lost, so both SIDU
    terms stay meaningful. The unmasked vector is the target's own class vector.

    similarity difference SD_i = sqrt(exp(-(p0_c - p_i_c)^2 / sigma^2)) for the target class c
    (the reference computes it per component and reads the explained class's);
    uniqueness U_i = sum_j ||p_i - p_j||; saliency = sum_i SD_i U_i M_i / N.
    """

    SETTINGS = {"layer": Setting(str, layer=True), "threshold": Setting(float), "sigma": Setting(float, low=0, open="low")}

    def __init__(self, layer: str = "class_net.predict", threshold: float = 0.1, sigma: float = 0.25):
        self.layer, self.threshold, self.sigma = layer, threshold, sigma

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """The masks depend only on the target's pyramid level: one forward pass gives every level's
        feature maps, and the targets of one level share its masked images."""
        maps: list[torch.Tensor | None] = [None] * len(targets)
        for features, members in features_by_level(scorer.detector, image, self.layer, targets):
            masks = F.interpolate((features[0, :, None] > self.threshold).float(), size=image.shape[-2:],
                                  mode="bilinear", align_corners=False)
            chunks = list(perturbed_matches(scorer, image, [targets[k] for k in members], masks.split(scorer.batch_size)))
            for j, k in enumerate(members):
                vectors = torch.cat([matches[j].vectors for _, matches in chunks])
                maps[k] = self._weighted_masks(vectors, targets[k], masks)
        return maps

    def _weighted_masks(self, vectors: torch.Tensor, target: Target, masks: torch.Tensor) -> torch.Tensor:
        reference = target.class_probs.to(vectors)
        similarity = torch.sqrt(torch.exp(-((reference[target.label] - vectors[:, target.label]) ** 2) / self.sigma**2))
        uniqueness = torch.cdist(vectors, vectors).sum(dim=1)
        weights = similarity * uniqueness
        return torch.einsum("n,nhw->hw", weights, masks[:, 0]) / len(masks)
