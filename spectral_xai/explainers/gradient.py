"""The plain input gradient (Simonyan et al. 2014) of the detection's own class logit: the
cheapest baseline, one forward and one backward pass for every box of the image together."""
from __future__ import annotations

from typing import Sequence

import torch

from .base import MultiTargetMethod, image_chunks, input_with_gradient, register
from .gradcam import GRADIENT_BATCH
from ..detection import DetectionScorer, Target


@register("gradient")
class InputGradient(MultiTargetMethod):
    """|d logit / d x|, its maximum over the input channels (over every spectrum of a stacked
    input). Summing the boxes' logits into one backward pass would mix their gradients, so each box
    gets its own backward pass from the one shared forward pass."""

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        return self.saliency_batch(scorer, image[None], [targets])[0]

    def saliency_batch(self, scorer: DetectionScorer, images: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        detector, maps = scorer.detector, []
        for chunk, chunk_targets in image_chunks(images, targets, GRADIENT_BATCH):
            with input_with_gradient(chunk) as x:
                raw = detector.raw(x)
                maps += [[torch.autograd.grad(detector.logit(raw, target, image), x, retain_graph=True)[0][image].abs().amax(dim=0)
                          for target in image_targets] for image, image_targets in enumerate(chunk_targets)]
        return maps
