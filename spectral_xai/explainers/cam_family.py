"""The Grad-CAM variants, each one way of combining a feature tensor A and the gradient g of the
detection's logit (see :class:`~.gradcam.FeatureGradientCAM` for the layer and level). Formulas
follow pytorch-grad-cam, against which the tests check them."""
from __future__ import annotations

import torch

from .base import register
from .gradcam import FeatureGradientCAM, GradCAM

EPS = 1e-7


@register("hirescam")
@register("hirescam_norelu", relu=False)
@register("odam", layer="class_net")
class HiResCAM(FeatureGradientCAM):
    """Draelos & Carin 2020: Grad-CAM without pooling, sum_k g_k * A_k per pixel.

    ``odam`` (Zhao & Chan 2023, instance-specific maps for detectors) is this map with the ReLU, at
    the head's input: the BiFPN output at the level of the detection (the official code's
    ``ReLU(sum_k g * fm)`` on the FPN feature of the box's level, with no smoothing)."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return (gradient * features).sum(dim=1, keepdim=True)


@register("xgradcam")
class XGradCAM(FeatureGradientCAM):
    """Fu et al. 2020: channel weights sum_ij g * A / sum_ij A."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        weights = (gradient * features / (features.sum(dim=(2, 3), keepdim=True) + EPS)).sum(dim=(2, 3), keepdim=True)
        return (weights * features).sum(dim=1, keepdim=True)


@register("gradcam_plusplus")
class GradCAMPlusPlus(FeatureGradientCAM):
    """Chattopadhay et al. 2018 with the exponential-score closed form: alpha = g^2 / (2 g^2 +
    sum_ab A * g^3) (0 where g is 0), weights sum_ij alpha * relu(g). The logit is the score: the
    higher derivatives then become powers of g. EfficientDet's features can be negative (BN, SiLU),
    so the denominator can be small: it is kept away from zero as pytorch-grad-cam does."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        squared, cubed = gradient ** 2, gradient ** 3
        alpha = squared / (2 * squared + features.sum(dim=(2, 3), keepdim=True) * cubed + EPS)
        alpha = torch.where(gradient != 0, alpha, torch.zeros_like(alpha))
        weights = (alpha * gradient.clamp(min=0)).sum(dim=(2, 3), keepdim=True)
        return (weights * features).sum(dim=1, keepdim=True)


@register("layercam")
class LayerCAM(FeatureGradientCAM):
    """Jiang et al. 2021: every pixel weighted by its positive gradient, sum_k relu(g_k) * A_k. With
    BN/SiLU features A < 0 is possible, so the sum can be negative before the ReLU."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return (gradient.clamp(min=0) * features).sum(dim=1, keepdim=True)


@register("guided_gradcam")
class GuidedGradientWeightCAM(FeatureGradientCAM):
    """Fahim et al. 2022, guided gradient-weight CAM: S = ReLU(sum_k lambda_k (GM * A_k)) with the
    guidance GM = ReLU(sum_k g_k * A_k) and lambda_k the spatial mean of g_k. GM is one non-negative
    number per pixel shared by all channels, so S = ReLU(HiResCAM) * ReLU(Grad-CAM), computed so
    from one backward pass. The paper's unspecified smoothing is left out (the maps are scored by
    insertion/deletion, where smoothing would change the result)."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        guidance = HiResCAM.combine(self, features, gradient).clamp(min=0)
        return guidance * GradCAM.combine(self, features, gradient).clamp(min=0)
