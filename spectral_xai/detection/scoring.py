"""How strongly does the detector still see the target in each of a batch of altered images?

One question shared by RISE, SIDU and the insertion/deletion metric, answered here only.
A :class:`ScoringRule` turns a batch's detections into one score per image (and the detection it
matched); :class:`DetectionScorer` runs the detector over any number of images in fixed-size chunks.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import torch
from torchvision.ops import box_iou

from .detector import TARGET_KINDS, Detections, Raw, Target
from .protocol import Detector
from ..settings import Setting, check_settings


@dataclass
class Match:
    scores: torch.Tensor  # [N] the target's score in each image, 0 where it was not re-identified
    index: torch.Tensor  # [N] the matched detection's row, -1 where none
    vectors: torch.Tensor  # [N, C] the matched detection's class probabilities, 0 where none


def _gather(detections: Detections, scores: torch.Tensor, index: torch.Tensor) -> Match:
    found = index >= 0
    rows = index.clamp(min=0)
    vectors = detections.class_probs.gather(1, rows[:, None, None].expand(-1, 1, detections.class_probs.shape[-1]))[:, 0]
    return Match(scores=torch.where(found, scores, torch.zeros_like(scores)), index=torch.where(found, index, -1),
                 vectors=vectors * found[:, None])


class ScoringRule(ABC):
    #: Detections scoring below this cannot change the rule's answer, so the detector may drop them
    #: before NMS (see :meth:`Detector.decode`).
    min_score: float = 0.0
    #: RISE divides each pixel's weighted sum by how often the masks kept it (xaitk-saliency's D-RISE)
    #: instead of by the expected N * p (the RISE paper's).
    coverage_normalised: bool = False
    #: Finds the target among the detections of the altered image (SESS needs that to follow it into
    #: its windows).
    reidentifies: bool = True

    def read(self, detector: Detector, raw: Raw) -> Any:
        """What the rule scores of a batch's head outputs: the decoded detections at its floor."""
        return detector.decode(raw, self.min_score)

    def normalised_by_coverage(self, target: Target) -> bool:
        """Whether RISE divides ``target``'s map by mask coverage (see :attr:`coverage_normalised`)."""
        return self.coverage_normalised

    @abstractmethod
    def __call__(self, detections: Any, target: Target) -> Match: ...


class MatchedScore(ScoringRule):
    """Bayer et al. 2021: among detections of the target's class with score >= ``min_score`` and
    IoU >= ``min_iou`` with the target box, the one with the highest IoU gives its score; none gives 0."""

    def __init__(self, min_score: float = 0.05, min_iou: float = 0.5):
        self.min_score, self.min_iou = min_score, min_iou

    def __call__(self, detections: Detections, target: Target) -> Match:
        iou = box_iou(target.box[None].to(detections.boxes), detections.boxes.reshape(-1, 4)).reshape(detections.scores.shape)
        valid = (detections.labels == target.label) & (detections.scores >= self.min_score) & (iou >= self.min_iou)
        best_iou, index = torch.where(valid, iou, torch.full_like(iou, -1.0)).max(dim=1)
        index = torch.where(best_iou >= 0, index, -1)
        return _gather(detections, detections.scores.gather(1, index.clamp(min=0)[:, None])[:, 0], index)


class ObjectScore(ScoringRule):
    """How strongly the net sees an annotated object it missed: the best score among detections of
    the object's class at IoU >= ``min_iou`` with its box, with no floor (a missed object's score is
    below the floor by definition, and a map must see it rise or fall); none gives 0."""

    def __init__(self, min_iou: float = 0.5):
        self.min_iou = min_iou

    def __call__(self, detections: Detections, target: Target) -> Match:
        iou = box_iou(target.box[None].to(detections.boxes), detections.boxes.reshape(-1, 4)).reshape(detections.scores.shape)
        valid = (detections.labels == target.label) & (iou >= self.min_iou)
        best, index = torch.where(valid, detections.scores, torch.full_like(detections.scores, -1.0)).max(dim=1)
        index = torch.where(best >= 0, index, -1)
        return _gather(detections, best.clamp(min=0), index)


class DRiseSimilarity(ScoringRule):
    """D-RISE (Petsiuk et al. 2021) as xaitk-saliency computes it: max over every detection (no
    floor) of IoU x cosine(class vectors) x objectness. EfficientDet has no objectness head; the
    detection's confidence (its best class probability, the usual stand-in) takes its place, so
    that a faint detection that happens to overlap counts for little. Each pixel of the map is
    normalised by its mask coverage (:attr:`coverage_normalised`): the similarity never falls to 0
    while some detection overlaps, and dividing by the constant N * p would leave a term
    mean(similarity) * sum_i M_i(x), mask noise."""

    coverage_normalised = True

    def __call__(self, detections: Detections, target: Target) -> Match:
        iou = box_iou(target.box[None].to(detections.boxes), detections.boxes.reshape(-1, 4)).reshape(detections.scores.shape)
        cosine = torch.nn.functional.cosine_similarity(detections.class_probs, target.class_probs.to(detections.class_probs)[None, None], dim=-1)
        objectness = detections.class_probs.amax(dim=-1)
        similarity = torch.where(detections.labels >= 0, iou * cosine * objectness, torch.zeros_like(iou))
        best, index = similarity.max(dim=1)
        index = torch.where(best > 0, index, -1)
        return _gather(detections, best, index)


class AnchorScore(ScoringRule):
    """The target's own class probability at its own anchor, whatever else the image shows: no
    re-identification, no NMS, no floor. What a classifier's logit is to the classic sanity check
    (Adebayo et al. 2018): under a randomised net it is never 0 by construction, so a map that
    depends on the weights can be told from one that does not. ``vectors``: every class's
    probability at that anchor."""

    reidentifies = False

    def read(self, detector: Detector, raw: Raw) -> tuple[Detector, Raw]:
        return detector, raw

    def __call__(self, outputs: tuple[Detector, Raw], target: Target) -> Match:
        detector, raw = outputs
        level, a, y, x = detector.locate(raw, target.anchor)
        c = detector.num_classes
        vectors = raw[0][level][:, a * c:(a + 1) * c, y, x].float().sigmoid()
        return Match(scores=vectors[:, target.label], index=torch.full((len(vectors),), target.anchor, device=vectors.device),
                     vectors=vectors)


class TargetRules(ScoringRule):
    """Targets of several kinds in one image (detections, missed objects, false positives), each
    scored by its own kind's rule from one reading of each perturbed batch: the detections decoded
    once, at the lowest floor among the rules. Decoding at a lower floor keeps every detection at or
    above a higher one, in the same order (see :meth:`Detector.decode`), and each rule applies
    its own floor, so every target scores exactly as under its own rule alone, for one forward pass."""

    def __init__(self, rules: Mapping[str, ScoringRule]):
        self.rules = dict(rules)
        if len({type(rule).read for rule in self.rules.values()}) > 1 or \
                len({rule.reidentifies for rule in self.rules.values()}) > 1:
            raise ValueError(f"rules that read a batch differently cannot share its reading: {self.rules}")
        self.reader = min(self.rules.values(), key=lambda rule: rule.min_score)
        self.min_score, self.reidentifies = self.reader.min_score, self.reader.reidentifies

    def read(self, detector: Detector, raw: Raw) -> Any:
        return self.reader.read(detector, raw)

    def normalised_by_coverage(self, target: Target) -> bool:
        return self.rules[target.kind].coverage_normalised

    def __call__(self, readings: Any, target: Target) -> Match:
        return self.rules[target.kind](readings, target)


@dataclass(frozen=True)
class Scoring:
    """The one scoring rule of a run, as configured: built once and handed to every perturbation
    method and to the insertion/deletion metric, so that they cannot score differently.

    Args:
        rule: ``matched`` (Bayer et al. 2021, the paper's), ``drise`` (D-RISE similarity) or
            ``anchor`` (the target's class probability at its own anchor, no re-identification:
            what the sanity check scores perturbation methods with).
        min_score: ``matched`` only: detections scoring lower cannot re-identify the target.
        min_iou: ``matched`` only: the least IoU with the target box that re-identifies it.
    """

    rule: str = "matched"
    min_score: float = 0.05
    min_iou: float = 0.5

    def __post_init__(self) -> None:
        for name, setting in SCORING_SETTINGS.items():
            object.__setattr__(self, name, setting.check("scoring", name, getattr(self, name)))

    @classmethod
    def from_settings(cls, settings: "Scoring | Mapping | None") -> "Scoring":
        """A ``Scoring`` from itself, a mapping (a config's ``{rule: drise}``) or None (the default)."""
        if settings is None or isinstance(settings, Scoring):
            return settings or cls()
        return cls(**check_settings("scoring", settings, SCORING_SETTINGS))

    def build(self, kind: str = "detection") -> ScoringRule:
        """The rule for targets of ``kind``: a missed object has no detection to re-identify, so it
        is scored by :class:`ObjectScore` (or by ``anchor``, where that is the run's rule)."""
        if kind == "missed" and self.rule != "anchor":
            return ObjectScore(self.min_iou)
        return {"matched": lambda: MatchedScore(self.min_score, self.min_iou), "drise": DRiseSimilarity,
                "anchor": AnchorScore}[self.rule]()

    def build_for(self, kinds: Iterable[str]) -> TargetRules:
        """One rule for targets of every kind in ``kinds`` (each scored by :meth:`build`'s rule for
        its kind), so that they share every perturbed image's forward pass."""
        return TargetRules({kind: self.build(kind) for kind in TARGET_KINDS if kind in set(kinds)})


SCORING_SETTINGS = {"rule": Setting(str, choices=("matched", "drise", "anchor")), "min_score": Setting(float, 0, 1, open="high"),
                    "min_iou": Setting(float, 0, 1, open="low")}


MIXED_PRECISION = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
PRECISIONS = ("32", "32-true", *MIXED_PRECISION)


def check_precision(precision: str) -> None:
    """Raise :class:`SettingsError` naming the choices when ``precision`` is not one of them."""
    Setting(str, choices=PRECISIONS).check("settings", "precision", precision)


class DetectionScorer:
    """Scores any number of images against one or several targets, ``batch_size`` images per
    forward pass; several targets share every forward pass.

    ``precision`` ``bf16-mixed`` or ``16-mixed`` runs these passes under autocast (Lightning's
    names): on a GPU the perturbation passes, which are nearly all of a perturbation method's
    time, then run on tensor cores. Only scores come out of them, and a score lost in the third
    digit changes a map by noise; gradient methods always run in full precision. On a CPU it is
    slower than ``32``, hence not the default."""

    def __init__(self, detector: Detector, rule: ScoringRule | None = None, batch_size: int = 32,
                 precision: str = "32"):
        check_precision(precision)
        self.detector = detector
        self.rule = rule or MatchedScore()
        self.batch_size = batch_size
        self.precision = precision
        self.forward_passes = 0  # images run through the detector, for cost accounting

    def detect(self, images: torch.Tensor) -> Any:
        """What the rule reads of ``images`` (the detections at its floor), in the configured precision."""
        dtype = MIXED_PRECISION.get(self.precision)
        with torch.autocast(images.device.type, dtype=dtype, enabled=dtype is not None):
            return self.rule.read(self.detector, self.detector.passes(images))

    @torch.no_grad()
    def detect_chunks(self, images: torch.Tensor) -> Iterator[Any]:
        """What the rule reads of ``images``, ``batch_size`` images per forward pass, counted."""
        for chunk in images.split(self.batch_size):
            self.forward_passes += len(chunk)
            yield self.detect(chunk)

    @torch.no_grad()
    def match_all(self, images: torch.Tensor, targets: Sequence[Target]) -> list[Match]:
        """Each target's matches in the same images: the detector runs once per image and every
        target is matched against the same detections."""
        parts: list[list[Match]] = [[] for _ in targets]
        for detections in self.detect_chunks(images):
            for part, target in zip(parts, targets):
                part.append(self.rule(detections, target))
        return [Match(*(torch.cat([getattr(p, f) for p in part]) for f in ("scores", "index", "vectors")))
                for part in parts]

    def match(self, images: torch.Tensor, target: Target) -> Match:
        return self.match_all(images, [target])[0]

    def __call__(self, images: torch.Tensor, target: Target) -> torch.Tensor:
        return self.match(images, target).scores
