"""Score-CAM for one detection (Wang et al. 2020; the reference code is haofanwang/Score-CAM)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .base import MultiTargetMethod, register
from ..settings import Setting
from ..detection import DetectionScorer, Target, perturbed_matches
from .features import features_by_level, per_channel_cost

EPS = 1e-8


@register("scorecam", "Score-CAM: each feature channel masks the image; the masked scores weight the channels")
class ScoreCAM(MultiTargetMethod):
    """Each channel k of the features entering ``layer`` at the detection's level, upsampled
    bilinearly to the input and min-max normalised, masks the image (onto zeros, the deletion
    substrate); the masked image's score for the target under the run's scoring rule is that
    channel's evidence, and the map is ReLU(sum_k softmax_k(evidence) A_k), upsampled.

    The evidence is the logit of the matched score (log s / (1 - s)): for the paper's rule that is
    the matched detection's own class logit, the score the Score-CAM paper uses ("the logit of class
    c"); a softmax over probabilities, all in [0, 1], would make the weights nearly uniform. A
    channel whose masked image does not show the target at all (score 0) gets weight 0, and a
    detection that no channel shows gets a blank map. A level of EfficientDet-D0 has 64 channels,
    so 64 masked images per level, shared by all targets of that level and run ``batch_size`` at a time.
    """

    SETTINGS = {"layer": Setting(str, layer=True)}
    perturbs = True

    def __init__(self, layer: str = "class_net.predict"):
        self.layer = layer

    def cost(self) -> str:
        return per_channel_cost(self.layer)

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        maps: list[torch.Tensor | None] = [None] * len(targets)
        for features, members in features_by_level(scorer.detector, image, self.layer, targets):
            upsampled = F.interpolate(features[0, :, None].float(), size=image.shape[-2:], mode="bilinear", align_corners=False)
            low = upsampled.amin(dim=(2, 3), keepdim=True)
            masks = (upsampled - low) / (upsampled.amax(dim=(2, 3), keepdim=True) - low + EPS)
            chunks = list(perturbed_matches(scorer, image, [targets[k] for k in members], masks.split(scorer.batch_size)))
            for j, k in enumerate(members):
                weights = channel_weights(torch.cat([matches[j].scores for _, matches in chunks]))
                cam = (weights[:, None, None].to(features) * features[0]).sum(dim=0).clamp(min=0)
                maps[k] = F.interpolate(cam[None, None], size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        return maps


def channel_weights(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the channels of the scores' logits; channels scoring 0 (target lost) weigh 0."""
    found = scores > 0
    if not found.any():
        return torch.zeros_like(scores)
    logits = torch.logit(scores.clamp(EPS, 1 - 1e-6))
    return torch.softmax(torch.where(found, logits, torch.full_like(logits, -torch.inf)), dim=0)
