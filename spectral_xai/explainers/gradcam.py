"""Grad-CAM for one detection (Selvaraju et al. 2017, applied to a detector as in Bayer et al. 2021)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .base import SaliencyMethod, register
from ..detection import DetectionScorer, Target
from .features import features_for_level, tap_inputs


@register("gradcam", relu=True)
@register("gradcam_norelu", relu=False)
class GradCAM(SaliencyMethod):
    """Feature maps entering ``layer`` (default: the classifier head's prediction conv, at the
    detection's own pyramid level — the paper's choice); channel weights are the spatial mean of
    the gradient of the detection's own class logit; the weighted sum is upsampled bilinearly.
    ``relu=False`` keeps negative evidence (the paper shows both: with ReLU maps are often empty).
    """

    def __init__(self, layer: str = "class_net.predict", relu: bool = True):
        self.layer, self.relu = layer, relu

    def saliency(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        return self.saliency_all(scorer, image, [target])[0]

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """One forward pass for every target, then one backward pass per target's logit."""
        detector = scorer.detector
        # Lightning validates under inference mode, whose tensors cannot join autograd.
        with torch.inference_mode(False), torch.enable_grad():
            x = image.clone()[None].requires_grad_(True)
            with tap_inputs(detector.net, self.layer) as calls:
                raw = detector.raw(x)
            maps = []
            for k, target in enumerate(targets):
                features = features_for_level(calls, detector.locate(raw, target.anchor)[0], self.layer)
                (gradient,) = torch.autograd.grad(detector.logit(raw, target), features, retain_graph=k < len(targets) - 1)
                maps.append(self._cam(features.detach(), gradient, image.shape[-2:]))
        return maps

    def _cam(self, features: torch.Tensor, gradient: torch.Tensor, size: torch.Size) -> torch.Tensor:
        cam = (gradient.mean(dim=(2, 3), keepdim=True) * features).sum(dim=1, keepdim=True)
        if self.relu:
            cam = cam.clamp(min=0)
        return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]
