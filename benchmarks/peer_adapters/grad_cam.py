"""EfficientDet detections as the models pytorch-grad-cam expects (shared by the cross-check tests and
benchmarks/peers.py): a model of one output, the explained detection's class logit, and as target
layer a pass-through module carrying the features that enter ``layer`` at the detection's level."""
from __future__ import annotations

import torch
from torch import nn

from spectral_xai.detection import DetectionScorer, EffdetDetector, Target


class DetectionLogit(nn.Module):
    """``detector`` as a model of one output, ``target``'s logit; the features entering ``layer`` at
    the target's level pass through ``tap`` on their way."""

    def __init__(self, detector: EffdetDetector, target: Target, layer: str, level: int):
        super().__init__()
        self.detector, self.target, self.layer, self.level = detector, target, layer, level
        self.tap = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.detector.logit(self.raw(x), self.target)[None, None]

    def raw(self, x: torch.Tensor):
        calls = []

        def route(_module, args):
            if isinstance(args[0], (list, tuple)):  # the heads' input: every level at once
                features = list(args[0])
                features[self.level] = self.tap(features[self.level])
                return (features, *args[1:])
            calls.append(None)
            return (self.tap(args[0]), *args[1:]) if len(calls) - 1 == self.level else None

        handle = self.detector.net.get_submodule(self.layer).register_forward_pre_hook(route)
        try:
            return self.detector.raw(x)
        finally:
            handle.remove()


class MatchedLogit(DetectionLogit):
    """Per image of a batch, the logit of the target's score by the paper's rule; -inf (softmax
    weight 0) where the target is not re-identified."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scorer = DetectionScorer(self.detector)
        scores = scorer.rule(self.detector.decode(self.raw(x), scorer.rule.min_score), self.target).scores
        return torch.where(scores > 0, torch.logit(scores.clamp(1e-8, 1 - 1e-6)), -torch.inf)[:, None]


class HalfPixelUpsampling(nn.Module):
    """Bilinear upsampling as the Score-CAM authors' code (and ours) does it, align_corners=False;
    pytorch-grad-cam's Score-CAM uses align_corners=True, which moves a 16 x 16 map by up to half a
    cell and leaves the maps at r ~ 0.98 for that reason alone. Swapped in for that comparison only."""

    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
