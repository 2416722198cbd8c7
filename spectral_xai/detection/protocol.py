"""What a saliency method, the scoring rules and the metrics ask of a detector: nothing more than this
protocol. :class:`~spectral_xai.detection.detector.EffdetDetector` implements it for effdet's
EfficientDet (and, in the tests, for a hand-made net shaped like it); a detector of another family
that implements it is explained by every method without a change to any of them.

The protocol is anchor-based and dense, as one-stage detectors are: a forward pass gives raw outputs
per pyramid level (class logits ``[B, A*C, H, W]`` and box regressions ``[B, A*4, H, W]``), a
detection is one anchor's, and a :class:`~spectral_xai.detection.detector.Target` names its anchor
and class, so that a gradient method can differentiate that anchor's class logit (or its decoded
box) and a perturbation method can re-identify the detection in an altered image.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from .detector import Detections, Raw, Target


@runtime_checkable
class Detector(Protocol):
    #: The network itself: gradient and feature methods hook its modules by name (``layer``), and
    #: the sanity check re-initialises them.
    net: nn.Module
    num_classes: int
    #: [N, 4] the anchors in effdet's (y1, x1, y2, x2) order, in input pixels.
    anchor_boxes: torch.Tensor

    def raw(self, images: torch.Tensor) -> Raw:
        """One forward pass of ``images`` [B, C, H, W], kept in autograd's graph."""

    def passes(self, images: torch.Tensor) -> Raw:
        """:meth:`raw` without gradients, for perturbed images (may run a compiled net)."""

    def compile_passes(self) -> "Detector":
        """Ask :meth:`passes` to run compiled from now on; returns the detector."""

    def use_runtime(self, runtime: str, precision: str = "32") -> "Detector":
        """Ask :meth:`passes` to run on ``runtime`` (``auto``, ``torch``, ``onnxruntime``) from now
        on; returns the detector."""

    def decode(self, raw: Raw, min_score: float = 0.0) -> Detections:
        """The detections of each image (after NMS), best first, each with its anchor."""

    def locate(self, raw: Raw, anchor: int) -> tuple[int, int, int, int]:
        """Where an anchor's outputs are: (pyramid level, anchor at the cell, row, column)."""

    def logit(self, raw: Raw, target: Target, image: int = 0) -> torch.Tensor:
        """The target's class logit at its anchor (a scalar in ``raw``'s graph)."""

    def box(self, raw: Raw, target: Target, image: int = 0) -> torch.Tensor:
        """The target's anchor's decoded box (x1, y1, x2, y2) in input pixels, in ``raw``'s graph."""

    def missed_target(self, raw: Raw, box: torch.Tensor, label: int, score: float, image: int = 0) -> Target:
        """A target for an annotated object no detection found: the anchor whose decoded box
        overlaps ``box`` most, explained for class ``label``."""
