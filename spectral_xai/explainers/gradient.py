"""The plain input gradient (Simonyan et al. 2014) of the detection's own class logit: the
cheapest baseline, one forward and one backward pass for every box of the image together."""
from __future__ import annotations

from typing import Sequence

import torch

from .base import GradientMethod, register
from ..detection import Detector, Target


@register("gradient", "the input gradient of the class logit, maximum over channels")
class InputGradient(GradientMethod):
    """|d logit / d x|, its maximum over the input channels (over every spectrum of a stacked
    input). Summing the boxes' logits into one backward pass would mix their gradients, so each box
    gets its own backward pass from the one shared forward pass."""

    def saliency_chunk(self, detector: Detector, x: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        raw = detector.raw(x)
        return [[torch.autograd.grad(detector.logit(raw, target, image), x, retain_graph=True)[0][image].abs().amax(dim=0)
                 for target in image_targets] for image, image_targets in enumerate(targets)]
