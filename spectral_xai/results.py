"""What explaining one sample produces: each method's map of each chosen box with its scores
(:class:`BoxResult`), the sample's explanation as a whole (:class:`SampleExplanation`) and how the
net did on each annotated object (:class:`ObjectOutcome`). Typed results, made by
:class:`~spectral_xai.explaining.Explainer` and read by ``reporting``."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from .detection import TARGET_KINDS, Detections, Target
from .explainers.base import MapInfo
from .metrics import CHECKS, CurveResult, Localisation, SpectrumScore
from .metrics.known_causes import CauseRegions

MATCH_IOU = 0.5  # an annotated object is found by a detection of its class overlapping it this much


@dataclass
class BoxResult:
    """One method's explanation of one box, with its scores."""

    sample_id: str
    spectrum: str
    target: Target
    box: int  # the box's rank among the image's explained boxes, 0 = its best detection
    method: str
    saliency: torch.Tensor | None  # [H, W] in [0, 1]; None where the method failed
    seconds: float  # the explanation alone, not its scoring; a method's time for all boxes of the image, shared out
    step: float  # insertion/deletion step, a share of the image area
    error: str | None = None  # traceback of a failure
    # Each registered metric's value of the map (``metrics.METRICS``; NaN where undefined for it) and,
    # for those that are areas, the curve; empty where the method failed.
    scores: dict[str, float] = field(default_factory=dict)
    curves: dict[str, CurveResult] = field(default_factory=dict)
    # Which box the localisation judged the target against (``Localisation.against``); None where the method failed.
    judged_against: str | None = None
    # On rendered data with ``known_causes``: each cause's true effect on the box's score (the same for
    # every method), how far each moves under another noise seed, and whether the largest stands out
    # of the noise (None: no known causes).
    cause_effects: dict[str, float] = field(default_factory=dict)
    cause_noise: dict[str, float] = field(default_factory=dict)
    cause_regions: CauseRegions | None = None  # where each part and other object shows (figures)
    measurable_cause: bool | None = None
    # Per spectrum of the input, the box's score without it and with it alone (the same for every method).
    spectrum_scores: dict[str, SpectrumScore] = field(default_factory=dict)
    # With ``repeats`` > 1, a stochastic method's primary scores under each seed, the first being this
    # result's, and the mean Pearson correlation of its maps over pairs of seeds.
    repeat_scores: list[dict[str, float]] = field(default_factory=list)
    seed_correlation: float = math.nan
    # What the map says of itself (RISE, D-RISE): the masks it stands on and its split-half reliability.
    info: MapInfo = field(default_factory=MapInfo)
    # The annotated object the target is (its row in the sample's annotations; :func:`annotated_object`),
    # which follows one object across nets; None for a false positive or an image without annotations.
    object: int | None = None
    # x and y factors from the net's input to the pixels of the image as given (a user's image of
    # its own size is resized to the net's square input); boxes are reported in those pixels.
    image_scale: tuple[float, float] = (1.0, 1.0)

    def value(self, metric: str) -> float:
        """The map's value of a registered metric; NaN where it was not scored."""
        return self.scores.get(metric, math.nan)

    # Views by the names users of ``explain()`` read: the paper's curves, the localisation, the checks.
    @property
    def deletion(self) -> CurveResult | None:
        return self.curves.get("deletion_auc")

    @property
    def insertion(self) -> CurveResult | None:
        return self.curves.get("insertion_auc")

    @property
    def localisation(self) -> Localisation | None:
        if self.judged_against is None:
            return None
        return Localisation(*(self.value(name) for name in ("pointing_game", "energy_pointing_game", "odi")),
                            self.judged_against)

    @property
    def checks(self) -> dict[str, float]:
        """The map's AUCs under the other fill and least relevant first, where ``metric_checks`` asked."""
        return {name: self.scores[name] for name in CHECKS if name in self.scores}

    @property
    def repeat_aucs(self) -> list[tuple[float, float]]:
        """(insertion AUC, deletion AUC) under each repeat."""
        return [(s["insertion_auc"], s["deletion_auc"]) for s in self.repeat_scores]

    @property
    def image_box(self) -> tuple[float, float, float, float]:
        """The target's box (x1, y1, x2, y2) in the pixels of the image as given."""
        x1, y1, x2, y2 = (float(v) for v in self.target.box)
        sx, sy = self.image_scale
        return x1 * sx, y1 * sy, x2 * sx, y2 * sy

    def image_saliency(self) -> torch.Tensor | None:
        """The map at the size of the image as given ([H, W], resized bilinearly), where
        :attr:`image_box` lies; None where the method failed."""
        if self.saliency is None:
            return None
        height, width = self.saliency.shape
        size = (round(height * self.image_scale[1]), round(width * self.image_scale[0]))
        if size == (height, width):
            return self.saliency
        return F.interpolate(self.saliency[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def blank(self) -> bool:
        """The method ran but its map is constant (nothing re-identified the target, say): its AUCs
        rank pixels in an arbitrary order and its localisation scores are undefined."""
        return self.ok and not bool((self.saliency > 0).any())

    @property
    def scored(self) -> bool:
        """A map that its scores stand on: explained and not blank."""
        return self.ok and not self.blank

    @property
    def full_score(self) -> float:
        """The target's score on the unperturbed image (a deletion curve's first point): what a
        confident net gets for free in both AUCs; NaN where the method failed."""
        first = next((c for c in self.curves.values() if c.removes), None)
        return float(first.scores[0]) if first is not None else math.nan

    def normalised(self, auc: float) -> float:
        """``auc`` over the box's :attr:`full_score`: comparable between nets that are unequally sure
        of their boxes; NaN where that score is 0."""
        full = self.full_score
        return auc / full if full > 0 else math.nan

    def cpu(self) -> "BoxResult":
        """The same result with its tensors in host memory, to be sent to another process."""
        return replace(self, target=self.target.cpu(), saliency=None if self.saliency is None else self.saliency.cpu())


@dataclass(frozen=True)
class ObjectOutcome:
    """One annotated object of a sample, as the net saw it: the best score among its detections of
    the object's class at IoU >= 0.5 (0 when none), and whether that reaches ``target_min_score``."""

    index: int  # the object's row in the sample's annotations
    label: int
    box: tuple[float, float, float, float]
    score: float
    found: bool


@dataclass
class SampleExplanation:
    """Every method's explanation of one sample's chosen targets (none when there was nothing to
    explain), and how the net did on each annotated object of the sample."""

    sample_id: str
    spectrum: str
    image: torch.Tensor  # [C, H, W], as the detector took it
    targets: list[Target]  # detections best first, then missed objects, then false positives
    results: list[BoxResult]
    objects: list[ObjectOutcome] = field(default_factory=list)

    def cpu(self) -> "SampleExplanation":
        return replace(self, image=self.image.cpu(), targets=[t.cpu() for t in self.targets],
                       results=[r.cpu() for r in self.results])

    def counts(self) -> dict[str, int]:
        """Targets explained, per kind."""
        return {kind: sum(t.kind == kind for t in self.targets) for kind in TARGET_KINDS}

    def per_box(self) -> list[tuple[Target, list[BoxResult]]]:
        """Each explained box with its methods' results, best box first."""
        return [(target, [r for r in self.results if r.box == box]) for box, target in enumerate(self.targets)]


def object_outcomes(detections: Detections, boxes: torch.Tensor, labels: torch.Tensor, min_score: float
                    ) -> list[ObjectOutcome]:
    """Each annotated object (``boxes`` [N, 4], 0-based ``labels`` [N]) against one image's
    ``detections``: its best score among detections of its class at IoU >= 0.5, found or not."""
    if not len(boxes):
        return []
    iou = box_iou(boxes.to(detections.boxes), detections.boxes[0])  # [N, K]
    same = labels.to(detections.labels)[:, None] == detections.labels[0][None]
    scores = torch.where(same & (iou >= MATCH_IOU), detections.scores[0][None], torch.zeros_like(iou)).amax(dim=1)
    return [ObjectOutcome(i, int(label), tuple(round(float(v), 2) for v in box), float(score), float(score) >= min_score)
            for i, (box, label, score) in enumerate(zip(boxes.cpu(), labels.cpu(), scores.cpu()))]


def annotated_object(target: Target, boxes: torch.Tensor, labels: torch.Tensor) -> int | None:
    """Which annotated object (``boxes`` [N, 4], 0-based ``labels`` [N]) ``target`` is: the one of its
    class its box overlaps most, at IoU >= 0.5 (a missed object's target is its own annotation);
    None where there is none."""
    rows = (labels.reshape(-1).cpu() == target.label).nonzero().flatten()
    if not len(rows):
        return None
    iou = box_iou(target.box[None].cpu().float(), boxes.reshape(-1, 4)[rows].cpu().float())[0]
    best = int(iou.argmax())
    return int(rows[best]) if float(iou[best]) >= MATCH_IOU else None


def mean_correlation(maps: Sequence[torch.Tensor]) -> float:
    """The mean Pearson correlation of the maps over every pair; NaN where a map is constant."""
    flat = torch.stack([m.detach().flatten().double().cpu() for m in maps])
    if (flat.std(dim=1) == 0).any():
        return math.nan
    r = torch.corrcoef(flat)
    pairs = torch.triu_indices(len(maps), len(maps), offset=1)
    return float(r[pairs[0], pairs[1]].mean())


@dataclass
class SanityResult:
    """One method's map of one box under one randomised stage of the net, against the trained net's."""

    sample_id: str
    spectrum: str
    box: int  # the box's rank among its image's explained boxes
    method: str
    stage: str
    spearman: float  # over all pixels; NaN where either map is blank or the method failed
    spearman_support: float  # over the pixels where either map is non-zero
    saliency: torch.Tensor | None  # the randomised net's map [H, W]; None where the method failed
    rule: str  # the scoring rule both maps were made under (perturbation methods: anchor)
    error: str | None = None

    def cpu(self) -> "SanityResult":
        return replace(self, saliency=None if self.saliency is None else self.saliency.cpu())


GroupKey = tuple[str, str, str]  # (model, spectrum, kind of target): every table keeps the kinds apart


def group_results(results: Sequence[BoxResult], model: str, groups: dict[GroupKey, list[BoxResult]]) -> None:
    """Add ``results`` of ``model`` to ``groups``, one group per (model, spectrum, kind of target)."""
    for result in results:
        groups.setdefault((model, result.spectrum, result.target.kind), []).append(result)
