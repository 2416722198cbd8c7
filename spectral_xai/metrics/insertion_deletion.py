"""Insertion and deletion (Petsiuk et al. 2018) for one detection.

Pixels are taken in order of decreasing saliency (or increasing: least relevant first), ``step`` of
the image area at a time. Deletion replaces them with the fill; insertion puts them back into it.
The paper's fills: deletion onto zeros (in the detector's input space, i.e. after normalisation: the
dataset's mean colour), insertion from a Gaussian-blurred copy (kernel 11, sigma 5, every channel);
either may take the other, or ROAD's noisy linear imputation (:mod:`.road`), which hides the shape
of the removed pixels where the other two show it. After each step the target is scored with the shared re-identification
rule; the AUC is the trapezoid rule over the fraction of pixels in [0, 1]. Lower deletion and
higher insertion are better.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator, Mapping

import torch
from torchvision.transforms.functional import gaussian_blur

from ..detection import DetectionScorer, Target, perturbed_matches
from .registry import METRICS, Metric, ScoredMap, register
from . import road


FILLS = ("zeros", "blur", "road")
#: The paper's fills: what deleted pixels become, what inserted pixels are put back into.
PAPER_FILL = {"deletion": "zeros", "insertion": "blur"}
#: What :func:`metric_checks` measures beside each map's AUCs (names of boxes.csv's columns).
CHECKS = ("deletion_auc_other_fill", "insertion_auc_other_fill", "deletion_auc_least_relevant_first",
          "insertion_auc_least_relevant_first", "deletion_auc_road", "insertion_auc_road")


@dataclass
class CurveResult:
    fractions: torch.Tensor  # [S + 1] share of pixels deleted / inserted, 0 .. 1
    scores: torch.Tensor  # [S + 1] the target's score after each step
    auc: float
    step: float  # share of the image area moved per step
    # Pixels are removed from the image (deletion): the first point is the unperturbed image's score.
    removes: bool = True


def _auc(fractions: torch.Tensor, scores: torch.Tensor) -> float:
    return float(torch.trapezoid(scores, fractions))


def _step_masks(order: torch.Tensor, size: tuple[int, int], step: float, chunk: int, keep_first: bool) -> Iterator[torch.Tensor]:
    """Masks after 0, 1, ..., S steps; 1 where the original image shows. ``keep_first``: the
    most salient pixels show (insertion) rather than vanish (deletion)."""
    h, w = size
    n = h * w
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n)
    steps = math.ceil(1 / step)
    counts = [min(n, round(i * step * n)) for i in range(steps + 1)]
    for start in range(0, len(counts), chunk):
        moved = torch.tensor(counts[start:start + chunk])[:, None]
        shown = rank[None] < moved if keep_first else rank[None] >= moved
        yield shown.float().reshape(-1, 1, h, w)


def _curve(scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target, step: float,
           substrate: torch.Tensor | Callable[[torch.Tensor], torch.Tensor], insert: bool, most_relevant_first: bool = True) -> CurveResult:
    if not 0 < step <= 1:
        raise ValueError(f"step {step} must be a share of the image area in (0, 1]")
    order = torch.argsort(saliency.flatten().cpu(), descending=most_relevant_first, stable=True)
    masks = _step_masks(order, tuple(image.shape[-2:]), step, scorer.batch_size, keep_first=insert)
    scores = torch.cat([m.scores for _, (m,) in perturbed_matches(scorer, image, [target], masks, substrate)]).cpu()
    steps = len(scores) - 1
    fractions = torch.tensor([min(1.0, i * step) for i in range(steps + 1)])
    return CurveResult(fractions, scores, _auc(fractions, scores), step, removes=not insert)


def deletion_substrate(image: torch.Tensor) -> torch.Tensor:
    """What deleted pixels become by default: zeros of the detector's input, i.e. the dataset's mean colour."""
    return torch.zeros_like(image)


def filled(image: torch.Tensor, fill: str) -> torch.Tensor | Callable[[torch.Tensor], torch.Tensor]:
    """The image every pixel of which is ``fill``: ``zeros`` or ``blur`` (the image blurred); for
    ``road``, which depends on what is removed, the function of a chunk's masks that gives it."""
    if fill not in FILLS:
        raise ValueError(f"fill {fill!r}: choose one of {', '.join(FILLS)}")
    if fill == "road":
        return partial(road.road_fill, image)
    return deletion_substrate(image) if fill == "zeros" else gaussian_blur(image[None], kernel_size=[11, 11], sigma=[5.0, 5.0])[0]


def deletion(scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target, step: float = 0.02,
             fill: str = "zeros", most_relevant_first: bool = True) -> CurveResult:
    return _curve(scorer, image, saliency, target, step, filled(image, fill), False, most_relevant_first)


def insertion(scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target, step: float = 0.02,
              fill: str = "blur", most_relevant_first: bool = True) -> CurveResult:
    return _curve(scorer, image, saliency, target, step, filled(image, fill), True, most_relevant_first)


def insertion_deletion(scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target,
                       step: float = 0.02, fill: Mapping[str, str] = PAPER_FILL) -> tuple[CurveResult, CurveResult]:
    """(insertion, deletion) for one saliency map, each with its ``fill``."""
    return (insertion(scorer, image, saliency, target, step, fill["insertion"]),
            deletion(scorer, image, saliency, target, step, fill["deletion"]))


def other_fill(fill: Mapping[str, str]) -> dict[str, str]:
    """Per curve, the fill the metric checks score it under: zeros and blur each other's, and ROAD's
    the paper's fill for that curve."""
    other = {"zeros": "blur", "blur": "zeros"}
    return {kind: other.get(chosen, PAPER_FILL[kind]) for kind, chosen in fill.items()}


def metric_checks(scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target, step: float,
                  fill: Mapping[str, str] = PAPER_FILL) -> dict[str, float]:
    """The map's deletion and insertion AUC under the other fill, with its least relevant pixels
    first, and under ROAD's fill (:data:`CHECKS`; in a run, ROAD's are ``road_checks``): a metric whose ranking of maps changes with the
    fill, or does not turn around with the order, measures the fill or the shape of the removed
    pixels as much as the map (Tomsett et al. 2020; Rong et al. 2022). The registered checks' own
    values, outside a run."""
    scored = ScoredMap(scorer, image, saliency, target, torch.zeros(0, 4), torch.zeros(0), step, fill)
    return {name: METRICS[name].compute(scored).auc for name in CHECKS}


def scored_curve(scored: ScoredMap, curve: str, fill: str = "chosen", most_relevant_first: bool = True) -> CurveResult:
    """One map's ``curve`` (``deletion`` or ``insertion``) under the run's fill (``chosen``), the
    ``other`` one, or a fill named (one of :data:`FILLS`): a module-level function (with
    :func:`functools.partial`), so that a metric travels to the processes a run is shared over."""
    fills = scored.fill if fill == "chosen" else other_fill(scored.fill) if fill == "other" else {curve: fill}
    measure = deletion if curve == "deletion" else insertion
    return measure(scored.scorer, scored.image, scored.saliency, scored.target, scored.step, fills[curve],
                   most_relevant_first)


register(Metric("deletion_auc", "detector", True, partial(scored_curve, curve="deletion"), "deletion AUC", "deletion",
                primary=True, curve=True, same_property_as="insertion_auc"))
register(Metric("insertion_auc", "detector", False, partial(scored_curve, curve="insertion"), "insertion AUC",
                "insertion", primary=True, curve=True))
# The checks of metric_checks, in CHECKS's order: each AUC under the other fill, then least relevant first.
register(Metric(CHECKS[0], "detector", True, partial(scored_curve, curve="deletion", fill="other"),
                "deletion AUC, other fill", "deletion, other fill", curve=True, switch="metric_checks",
                variant_of="deletion_auc"))
register(Metric(CHECKS[1], "detector", False, partial(scored_curve, curve="insertion", fill="other"),
                "insertion AUC, other fill", "insertion, other fill", curve=True, switch="metric_checks",
                variant_of="insertion_auc"))
# Least relevant first turns the direction around: a good map's deletion then keeps the score up.
register(Metric(CHECKS[2], "detector", False, partial(scored_curve, curve="deletion", most_relevant_first=False),
                "deletion AUC, least relevant first", "deletion, least first", curve=True, switch="metric_checks",
                variant_of="deletion_auc"))
register(Metric(CHECKS[3], "detector", True, partial(scored_curve, curve="insertion", most_relevant_first=False),
                "insertion AUC, least relevant first", "insertion, least first", curve=True, switch="metric_checks",
                variant_of="insertion_auc"))
register(Metric(CHECKS[4], "detector", True, partial(scored_curve, curve="deletion", fill="road"),
                "deletion AUC, ROAD's fill", "deletion, road", curve=True, switch="road_checks",
                variant_of="deletion_auc"))
register(Metric(CHECKS[5], "detector", False, partial(scored_curve, curve="insertion", fill="road"),
                "insertion AUC, ROAD's fill", "insertion, road", curve=True, switch="road_checks",
                variant_of="insertion_auc"))
