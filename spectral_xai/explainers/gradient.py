"""The plain input gradient (Simonyan et al. 2014) of the detection's own class logit: the
cheapest baseline, one forward and one backward pass for every box of the image together."""
from __future__ import annotations

from typing import Sequence

import torch

from .base import MultiTargetMethod, input_with_gradient, register
from ..detection import DetectionScorer, Target


@register("gradient")
class InputGradient(MultiTargetMethod):
    """|d logit / d x|, its maximum over the input channels (over every spectrum of a stacked
    input). Summing the boxes' logits into one backward pass would mix their gradients, so each box
    gets its own backward pass from the one shared forward pass."""

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        detector = scorer.detector
        with input_with_gradient(image) as x:
            raw = detector.raw(x)
            return [torch.autograd.grad(detector.logit(raw, target), x, retain_graph=k < len(targets) - 1)[0][0].abs().amax(dim=0)
                    for k, target in enumerate(targets)]
