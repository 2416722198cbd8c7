"""The Grad-CAM variants, each one way of combining a feature tensor A and the gradient g of the
detection's logit (see :class:`~.gradcam.FeatureGradientCAM` for the layer and level). Formulas
follow pytorch-grad-cam, against which the tests check them."""
from __future__ import annotations

from typing import Sequence

import torch

from .base import normalize, register
from ..settings import Setting, SettingsError
from .gradcam import FeatureGradientCAM, GradCAM
from ..detection import Detector, Target
from ..detection.detector import Raw

EPS = 1e-7
# Grad-CAM++'s denominator g^2 (2 + g sum A) passes through zero where a channel's sum is negative
# (g = -2 / sum A), and there the constant added decides alpha: pytorch-grad-cam's 1e-6, so that the
# maps are those of the implementation most published comparisons ran.
PLUSPLUS_EPS = 1e-6


@register("hirescam", "HiResCAM: every feature pixel weighted by its own gradient")
@register("hirescam_norelu", "HiResCAM without the final ReLU", relu=False)
@register("odam", "ODAM for the class score: HiResCAM + ReLU at the BiFPN output of the box's level", layer="class_net")
class HiResCAM(FeatureGradientCAM):
    """Draelos & Carin 2020: Grad-CAM without pooling, sum_k g_k * A_k per pixel.

    ``odam`` (Zhao & Chan 2023, instance-specific maps for detectors) is this map with the ReLU, at
    the head's input: the BiFPN output at the level of the detection (the official code's
    ``ReLU(sum_k g * fm)`` on the FPN feature of the box's level, with no smoothing)."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return (gradient * features).sum(dim=1, keepdim=True)


CORNERS = ("x1", "y1", "x2", "y2")


@register("odam_box", "ODAM for the box: one map per decoded corner, normalised, their maximum")
@register("odam_comb", "ODAM's holistic map: the class map and the four corner maps, maximum", with_class=True)
class ODAMBox(HiResCAM):
    """ODAM for the box (Zhao & Chan 2023): the map of each regressed corner, ReLU(sum_k g * A) with
    g the gradient of that corner, at the BiFPN output of the detection's level, where the box head
    reads it. effdet regresses (ty, tx, th, tw) against the anchor; the corners are decoded from them
    with effdet's own decoder, so that each is a coordinate in input pixels.

    ``coordinates`` (default all four corners): one map per corner, each min-max normalised, and
    their elementwise maximum, as ODAM's project page combines attribute maps. ``odam_comb``
    (``with_class=True``) adds the class map: ODAM's holistic explanation of the detection."""

    SETTINGS = {"layer": Setting(str, layer=True), "coordinates": Setting((list, tuple)), "with_class": Setting(bool)}

    def __init__(self, layer: str = "class_net", coordinates: Sequence[str] = CORNERS, with_class: bool = False):
        super().__init__(layer=layer, relu=True)
        unknown = [c for c in coordinates if c not in CORNERS]
        if unknown or not coordinates:
            raise SettingsError(f"odam_box: coordinates {list(coordinates)}: choose among {list(CORNERS)}")
        self.coordinates, self.with_class = list(coordinates), with_class

    def cost(self) -> str:
        return f"1 fwd + {len(self.coordinates) + self.with_class} head-only bwd"

    def outputs(self, detector: Detector, raw: Raw, target: Target, image: int) -> list[torch.Tensor]:
        box = detector.box(raw, target, image)
        corners = [box[CORNERS.index(c)] for c in self.coordinates]
        return [detector.logit(raw, target, image), *corners] if self.with_class else corners

    def merge(self, cams: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([normalize(cam) for cam in cams]).amax(dim=0)


@register("eigencam", "Eigen-CAM: first principal component of the box level's features, oriented by the box's own evidence")
class EigenCAM(FeatureGradientCAM):
    """Muhammad & Yeasin 2020: the features projected on their first principal component (pixels as
    samples, centred, as pytorch-grad-cam computes it). The component's sign is arbitrary (an SVD
    may return either), which would make the map its own negative at random; it is oriented so that
    the projection agrees with the detection's own evidence, HiResCAM's sum_k g * A. Otherwise the
    map does not depend on the detection, only on its level: all detections of one level share it."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        pixels = features[0].flatten(1).T.float()  # [h * w, K]
        pixels = pixels - pixels.mean(dim=0)
        _, _, vh = torch.linalg.svd(pixels, full_matrices=False)
        projection = (pixels @ vh[0]).reshape(1, 1, *features.shape[-2:])
        evidence = HiResCAM.combine(self, features, gradient)
        return projection if (projection * evidence).sum() >= 0 else -projection


@register("xgradcam", "XGrad-CAM: channel weights sum g A / sum A")
class XGradCAM(FeatureGradientCAM):
    """Fu et al. 2020: channel weights sum_ij g * A / sum_ij A."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        weights = (gradient * features / (features.sum(dim=(2, 3), keepdim=True) + EPS)).sum(dim=(2, 3), keepdim=True)
        return (weights * features).sum(dim=1, keepdim=True)


@register("gradcam_plusplus", "Grad-CAM++ (closed form on the logit)")
class GradCAMPlusPlus(FeatureGradientCAM):
    """Chattopadhay et al. 2018 with the exponential-score closed form: alpha = g^2 / (2 g^2 +
    sum_ab A * g^3) (0 where g is 0), weights sum_ij alpha * relu(g). The logit is the score: the
    higher derivatives then become powers of g. The derivation assumes A >= 0 (features after a
    ReLU); EfficientDet's can be negative (BN, SiLU), and where a channel sums to less than zero a
    pixel's alpha can become arbitrarily large, so that it alone decides the map (see
    ``PLUSPLUS_EPS``)."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        squared, cubed = gradient ** 2, gradient ** 3
        alpha = squared / (2 * squared + features.sum(dim=(2, 3), keepdim=True) * cubed + PLUSPLUS_EPS)
        alpha = torch.where(gradient != 0, alpha, torch.zeros_like(alpha))
        weights = (alpha * gradient.clamp(min=0)).sum(dim=(2, 3), keepdim=True)
        return (weights * features).sum(dim=1, keepdim=True)


@register("layercam", "LayerCAM: every pixel weighted by its positive gradient")
class LayerCAM(FeatureGradientCAM):
    """Jiang et al. 2021: every pixel weighted by its positive gradient, sum_k relu(g_k) * A_k. With
    BN/SiLU features A < 0 is possible, so the sum can be negative before the ReLU."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return (gradient.clamp(min=0) * features).sum(dim=1, keepdim=True)


@register("guided_gradcam", "Fahim et al. 2022's guided gradient-weight CAM: ReLU(HiResCAM) x ReLU(Grad-CAM)")
class GuidedGradientWeightCAM(FeatureGradientCAM):
    """Fahim et al. 2022, guided gradient-weight CAM: S = ReLU(sum_k lambda_k (GM * A_k)) with the
    guidance GM = ReLU(sum_k g_k * A_k) and lambda_k the spatial mean of g_k. GM is one non-negative
    number per pixel shared by all channels, so S = ReLU(HiResCAM) * ReLU(Grad-CAM), computed so
    from one backward pass. The paper's unspecified smoothing is left out (the maps are scored by
    insertion/deletion, where smoothing would change the result)."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        guidance = HiResCAM.combine(self, features, gradient).clamp(min=0)
        return guidance * GradCAM.combine(self, features, gradient).clamp(min=0)
