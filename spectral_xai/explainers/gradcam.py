"""Maps made from one feature tensor A and the gradient g of the detection's own class logit with
respect to it: Grad-CAM (Selvaraju et al. 2017, applied to a detector as in Bayer et al. 2021) and
the family that differs from it only in how A and g are combined (``cam_family.py``).

Which tensor: ``layer`` names a module whose *input* is tapped, at the detection's own pyramid level.
``class_net.predict`` (default, the paper's choice) is the input of the class head's last conv: one
anchor's logit reaches only a 3 x 3-cell window there, so methods that weight every pixel by its
own gradient give a small blob around the anchor, while Grad-CAM's pooled weights spread over the
whole level. ``class_net`` is the BiFPN output at that level (the class head's input), where the
logit reaches 9 x 9 cells (72 px at P3, the whole image at P7).
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import torch
import torch.nn.functional as F

from .base import GradientMethod, register
from ..settings import Setting
from ..detection import Detector, Target
from ..detection.detector import Raw
from .features import features_for_level, tap_inputs


class FeatureGradientCAM(GradientMethod):
    """Base of the (A, g) methods: one forward pass for every target (of several images: see
    :class:`~.base.GradientMethod`), then per target and per
    explained output (:meth:`outputs`: the class logit unless a method says otherwise) one backward
    pass, which only runs through the head since it stops at A; :meth:`combine` (A, g) -> a map at
    the feature resolution, ReLU unless ``relu=False``; :meth:`merge` makes one map of several
    outputs' maps; upsampled bilinearly to the input."""

    SETTINGS = {"layer": Setting(str, layer=True), "relu": Setting(bool)}

    def __init__(self, layer: str = "class_net.predict", relu: bool = True):
        self.layer, self.relu = layer, relu

    @abstractmethod
    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """A, g [1, K, h, w] -> map [1, 1, h, w]."""

    def outputs(self, detector: Detector, raw: Raw, target: Target, image: int) -> list[torch.Tensor]:
        """The scalars explained, each differentiable to the features: the target's class logit in
        image ``image`` of the batch."""
        return [detector.logit(raw, target, image)]

    def merge(self, cams: list[torch.Tensor]) -> torch.Tensor:
        """One map from the maps of :meth:`outputs`, in order."""
        (cam,) = cams
        return cam

    def saliency_chunk(self, detector: Detector, x: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        with tap_inputs(detector.net, self.layer) as calls:
            raw = detector.raw(x)
        maps = []
        for image, image_targets in enumerate(targets):
            maps.append([])
            for target in image_targets:
                features = features_for_level(calls, detector.locate(raw, target.anchor)[0], self.layer)
                cams = []
                for output in self.outputs(detector, raw, target, image):
                    (gradient,) = torch.autograd.grad(output, features, retain_graph=True)
                    cam = self.combine(features[image:image + 1].detach(), gradient[image:image + 1])
                    cams.append(cam.clamp(min=0) if self.relu else cam)
                maps[-1].append(F.interpolate(self.merge(cams), size=x.shape[-2:], mode="bilinear",
                                              align_corners=False)[0, 0])
        return maps


@register("gradcam", "Grad-CAM (the paper's): the head's features weighted by their mean gradient of the class logit", relu=True)
@register("gradcam_norelu", "Grad-CAM without the final ReLU (negative evidence kept)", relu=False)
class GradCAM(FeatureGradientCAM):
    """Channel weights are the spatial mean of g; the map is the weighted sum of A.
    ``relu=False`` keeps negative evidence (the paper shows both: with ReLU maps are often empty)."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return (gradient.mean(dim=(2, 3), keepdim=True) * features).sum(dim=1, keepdim=True)
