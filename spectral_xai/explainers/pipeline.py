"""Explaining one box with several methods and scoring each map: the step shared by the training
callback and explain.py. A method that raises is logged with its traceback and reported as
failed; the others still run."""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Mapping

import torch

from ..metrics import CurveResult, insertion_deletion
from .base import SaliencyMethod
from .detection import EffdetDetector, Target
from .scoring import DetectionScorer

log = logging.getLogger(__name__)


@dataclass
class MethodResult:
    method: str
    saliency: torch.Tensor | None  # [H, W] in [0, 1]
    insertion: CurveResult | None
    deletion: CurveResult | None
    seconds: float  # the explanation alone, not its scoring
    error: str | None = None  # traceback of a failure


def explain_box(detector: EffdetDetector, image: torch.Tensor, target: Target,
                methods: Mapping[str, SaliencyMethod], scorer: DetectionScorer, step: float) -> list[MethodResult]:
    results = []
    for name, method in methods.items():
        start = time.perf_counter()
        try:
            saliency = method(detector, image, target)
            seconds = time.perf_counter() - start
            ins, dele = insertion_deletion(scorer, image, saliency, target, step)
            results.append(MethodResult(name, saliency, ins, dele, seconds))
        except Exception:  # one broken method must not stop the others, nor training
            error = traceback.format_exc()
            log.error("explanation method %r failed:\n%s", name, error)
            results.append(MethodResult(name, None, None, None, time.perf_counter() - start, error))
    return results


def top_target(detector: EffdetDetector, image: torch.Tensor, min_score: float) -> Target | None:
    """The highest-scoring detection (the paper's protocol), or None below ``min_score``."""
    with torch.no_grad():
        detections = detector(image[None])
    if float(detections.scores[0, 0]) < min_score:
        return None
    return Target.from_detections(detections)
