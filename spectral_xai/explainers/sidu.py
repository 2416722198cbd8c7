"""SIDU for one detection (Muddamsetty et al. 2021; the reference code is SIDU_XAI_CODE)."""
from __future__ import annotations

from typing import Sequence

import torch

from .base import MultiTargetMethod, register
from .masks import upsample_mirrored
from ..settings import Setting
from ..detection import DetectionScorer, Target, perturbed_matches
from .features import features_by_level, per_channel_cost


@register("sidu", "SIDU: one mask per feature channel, weighted by similarity and uniqueness of the masked predictions")
class SIDU(MultiTargetMethod):
    """One mask per channel of the feature maps entering ``layer`` at the detection's level,
    binarised at ``threshold`` and upsampled linearly to the input, mirrored at the border (as the
    reference code resizes).

    The *prediction vector* of a masked image is the class-probability vector (sigmoid of every
    class logit at its anchor) of the detection that re-identifies the target under the run's rule —
    zeros when nothing does. Why: a classifier's softmax vector, which SIDU was made for, has no
    single counterpart in a detector; the matched box's class vector is the detector's own
    statement about *that object*, and it falls to zero when the object is lost, so both SIDU
    terms stay meaningful. The unmasked vector is the target's own class vector.

    As the reference code computes them: similarity difference SD_i = sqrt(exp(-(p0_c - p_i_c)^2 /
    sigma^2)) for the target class c (it computes every component and reads the explained class's);
    uniqueness U_i = sum_j ||p_i - p_j||, min-max normalised over the masks; saliency =
    sum_i SD_i U_i M_i / N.

    ``threshold``: the reference binarises its VGG/ResNet features (after ReLU, large) at 0.5. The
    inputs of EfficientDet's class-head conv are small: on the reproduction's MIR net (8 boxes,
    ``python benchmarks/sidu_coverage.py``) 0.5 keeps 4-22 % of their cells and leaves 2-14 of the
    64 channel masks empty (an empty mask explains nothing), while 0.1 keeps 31-46 % and leaves at
    most one empty; hence 0.1, a setting.
    """

    SETTINGS = {"layer": Setting(str, layer=True), "threshold": Setting(float), "sigma": Setting(float, low=0, open="low")}
    perturbs = True

    def __init__(self, layer: str = "class_net.predict", threshold: float = 0.1, sigma: float = 0.25):
        self.layer, self.threshold, self.sigma = layer, threshold, sigma

    def cost(self) -> str:
        return per_channel_cost(self.layer)

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """The masks depend only on the target's pyramid level: one forward pass gives every level's
        feature maps, and the targets of one level share its masked images."""
        maps: list[torch.Tensor | None] = [None] * len(targets)
        for features, members in features_by_level(scorer.detector, image, self.layer, targets):
            masks = self.masks(features[0], tuple(image.shape[-2:]))
            chunks = list(perturbed_matches(scorer, image, [targets[k] for k in members], masks.split(scorer.batch_size)))
            for j, k in enumerate(members):
                vectors = torch.cat([matches[j].vectors for _, matches in chunks])
                maps[k] = self.weighted_masks(vectors, targets[k], masks)
        return maps

    def masks(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """[C, 1, H, W]: each channel of ``features`` [C, h, w] binarised and upsampled."""
        return upsample_mirrored((features > self.threshold).float(), size)

    def weighted_masks(self, vectors: torch.Tensor, target: Target, masks: torch.Tensor) -> torch.Tensor:
        """The map from the masked images' prediction vectors [N, C] and the masks [N, 1, H, W]."""
        reference = target.class_probs.to(vectors)
        similarity = torch.sqrt(torch.exp(-((reference[target.label] - vectors[:, target.label]) ** 2) / self.sigma**2))
        uniqueness = torch.cdist(vectors, vectors).sum(dim=1)
        uniqueness = (uniqueness - uniqueness.min()) / (uniqueness.max() - uniqueness.min() + 1e-13)
        weights = similarity * uniqueness
        return torch.einsum("n,nhw->hw", weights, masks[:, 0]) / len(masks)
