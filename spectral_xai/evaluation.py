"""One dataset sample through the whole path: its top detection, every configured method, each map
scored by insertion and deletion under the run's one scoring rule. The training callback and
explain.py both call :class:`Explainer`; what they make of the typed results (rows, CSV, W&B
tables, figures) is ``reporting``'s job.

A method that raises is logged with its traceback and reported as failed; the others still run.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from .detection import DetectionScorer, EffdetDetector, Scoring, Target
from .explainers import SaliencyMethod, create
from .explainers.base import check_known
from .metrics import CurveResult, SpectrumScore, insertion_deletion, spectrum_attribution

log = logging.getLogger(__name__)


@dataclass
class BoxResult:
    """One method's explanation of one box, with its scores."""

    sample_id: str
    spectrum: str
    target: Target
    method: str
    saliency: torch.Tensor | None  # [H, W] in [0, 1]; None where the method failed
    insertion: CurveResult | None
    deletion: CurveResult | None
    seconds: float  # the explanation alone, not its scoring
    step: float  # insertion/deletion step, a share of the image area
    error: str | None = None  # traceback of a failure
    # Per spectrum of the input, the box's score without it and with it alone (the same for every method).
    spectrum_scores: dict[str, SpectrumScore] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SampleExplanation:
    """Every method's explanation of one sample's top detection."""

    sample_id: str
    spectrum: str
    image: torch.Tensor  # [C, H, W], as the detector took it
    target: Target
    results: list[BoxResult]


def choose_indices(available: int, count: int, seed: int) -> list[int]:
    """A seeded, sorted choice of ``count`` of ``available`` indices (all of them if fewer)."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(available, min(count, available), replace=False).tolist())


def choose_scenes(pools: Sequence[Sequence[str]], count: int, seed: int) -> list[str]:
    """A seeded, sorted choice of ``count`` sample ids for several nets at once, so that every net
    and spectrum explains the same scenes: drawn from the ids every pool holds, then, if those are
    too few, from the ids some pools hold (each net explains the chosen ids it has)."""
    common = sorted(set.intersection(*map(set, pools))) if pools else []
    chosen = [common[i] for i in choose_indices(len(common), count, seed)]
    if len(chosen) < count:
        rest = sorted(set().union(*map(set, pools)) - set(common))
        chosen += [rest[i] for i in choose_indices(len(rest), count - len(chosen), seed)]
    return sorted(chosen)


class Explainer:
    """The configured methods and one scoring rule, shared by every method and by the metric.

    Args:
        methods: registered method names (``gradcam``, ``gradcam_norelu``, ``rise``, ``sidu``).
        method_settings: per method, keyword arguments, e.g. ``{"rise": {"n_masks": 500}}``.
        scoring: the rule that scores a detection in altered images (see :class:`Scoring`).
        step: insertion/deletion step, a share of the image area.
        batch_size: images per forward pass of the perturbation methods and the metric.
        target_min_score: a sample whose top detection scores lower is not explained.
    """

    def __init__(self, methods: Sequence[str] = ("gradcam", "rise", "sidu"),
                 method_settings: Mapping[str, dict] | None = None, scoring: Scoring | None = None,
                 step: float = 0.05, batch_size: int = 32, target_min_score: float = 0.05):
        for name in method_settings or {}:
            check_known(name)  # a misspelt name in the settings fails here, not silently
        self.methods: dict[str, SaliencyMethod] = {
            name: create(name, **(method_settings or {}).get(name, {})) for name in methods}
        self.scoring = scoring or Scoring()
        self.rule = self.scoring.build()
        if not 0 < step <= 1:
            raise ValueError(f"step {step} must be a share of the image area in (0, 1]")
        self.step, self.batch_size, self.target_min_score = step, batch_size, target_min_score

    def scorer(self, detector: EffdetDetector) -> DetectionScorer:
        return DetectionScorer(detector, self.rule, self.batch_size)

    def top_target(self, detector: EffdetDetector, image: torch.Tensor) -> Target | None:
        """The highest-scoring detection with an area (the paper's protocol), or None below
        ``target_min_score``. Boxes are clipped to the image as effdet does, which can leave a
        confident box with no area at a corner: no IoU can match it, so nothing could explain it."""
        with torch.no_grad():
            detections = detector(image[None])
        boxes = detections.boxes[0]
        has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) & (detections.labels[0] >= 0)
        if not has_area.any():
            return None
        rank = int(has_area.nonzero()[0, 0])
        if rank:
            log.info("skipped %d detection(s) without area above the explained one", rank)
        if float(detections.scores[0, rank]) < self.target_min_score:
            return None
        return Target.from_detections(detections, rank=rank)

    def explain(self, detector: EffdetDetector, sample: Mapping, device: torch.device | str = "cpu") -> SampleExplanation | None:
        """Explain ``sample`` (the dataset's dict); None when it has no detection to explain."""
        image = sample["image"].to(device)
        target = self.top_target(detector, image)
        if target is None:
            return None
        scorer = self.scorer(detector)
        attribution = spectrum_attribution(scorer, image, target, sample["spectrum"].split("+"))
        results = [self._explain_with(name, method, scorer, image, target, sample) for name, method in self.methods.items()]
        for result in results:
            result.spectrum_scores = attribution
        return SampleExplanation(sample["sample_id"], sample["spectrum"], image, target, results)

    def _explain_with(self, name: str, method: SaliencyMethod, scorer: DetectionScorer, image: torch.Tensor,
                      target: Target, sample: Mapping) -> BoxResult:
        start = time.perf_counter()
        try:
            saliency = method(scorer, image, target)
            seconds = time.perf_counter() - start
            insertion, deletion = insertion_deletion(scorer, image, saliency, target, self.step)
            return BoxResult(sample["sample_id"], sample["spectrum"], target, name, saliency, insertion, deletion,
                             seconds, self.step)
        except Exception:  # one broken method must not stop the others, nor training
            error = traceback.format_exc()
            log.error("explanation method %r failed on %s (%s):\n%s", name, sample["sample_id"], sample["spectrum"], error)
            return BoxResult(sample["sample_id"], sample["spectrum"], target, name, None, None, None,
                             time.perf_counter() - start, self.step, error)
