"""One dataset sample through the whole path: its detections to explain (the top one, the paper's
protocol, or every one, or the N best), every configured method, each map scored by insertion and
deletion under the run's one scoring rule and by how it localises the object among the image's
annotated objects (pointing game, energy pointing game, ODI). A method explains all chosen boxes of an image in one call,
so that what the boxes share (RISE's masked images, one forward pass) is paid once. The training callback and
explain.py both call :class:`Explainer`; what they make of the typed results (rows, CSV, W&B
tables, figures) is ``reporting``'s job.

A method that raises is logged with its traceback and reported as failed; the others still run.
"""
from __future__ import annotations

import logging
import math
import time
import traceback
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from .detection import TARGET_KINDS, DetectionScorer, Detections, Detector, Scoring, Target
from .detection.scoring import PRECISIONS
from .explainers import SaliencyMethod, create, method_names
from .explainers.base import MapInfo, check_known
from .explainers.baselines import BASELINES
from .metrics import CurveResult, Localisation, SpectrumScore, insertion_deletion, localisation, spectrum_attribution
from .settings import Setting, SettingsError, closest, name_list, unknown_name
from .statistics import Inference, primary_pairs

log = logging.getLogger(__name__)


@dataclass
class BoxResult:
    """One method's explanation of one box, with its scores."""

    sample_id: str
    spectrum: str
    target: Target
    box: int  # the box's rank among the image's explained boxes, 0 = its best detection
    method: str
    saliency: torch.Tensor | None  # [H, W] in [0, 1]; None where the method failed
    insertion: CurveResult | None
    deletion: CurveResult | None
    seconds: float  # the explanation alone, not its scoring; a method's time for all boxes of the image, shared out
    step: float  # insertion/deletion step, a share of the image area
    error: str | None = None  # traceback of a failure
    localisation: Localisation | None = None  # pointing game, energy pointing game, ODI; None where the method failed
    # Per spectrum of the input, the box's score without it and with it alone (the same for every method).
    spectrum_scores: dict[str, SpectrumScore] = field(default_factory=dict)
    # With ``repeats`` > 1, a stochastic method's (insertion AUC, deletion AUC) under each seed, the
    # first being this result's, and the mean Pearson correlation of its maps over pairs of seeds.
    repeat_aucs: list[tuple[float, float]] = field(default_factory=list)
    seed_correlation: float = math.nan
    # What the map says of itself (RISE, D-RISE): the masks it stands on and its split-half reliability.
    info: MapInfo = field(default_factory=MapInfo)

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


Boxes = Union[str, int]  # "top", "all" or N (checked by ExplainSettings, with a message of our own)
Methods = Union[str, Sequence[str]]  # "all", "gradcam,rise" or a list
#: The ``targets`` setting's names, and the kind of :class:`Target` each gives.
TARGET_SETTING = {"detections": "detection", "missed": "missed", "false_positives": "false_positive"}
MATCH_IOU = 0.5  # an annotated object is found by a detection of its class overlapping it this much
#: More detections than this in one image under ``boxes: all`` is warned of: a floor set too low.
MANY_BOXES = 20


def boxes_label(boxes: Boxes) -> str:
    """How reports name the protocol: ``top``, ``all`` or ``best N``."""
    return boxes if isinstance(boxes, str) else f"best {boxes}"


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


NUMBERS = {"target_min_score": Setting(float, 0, 1), "step": Setting(float, 0, 1, open="low"),
           "batch_size": Setting(int, low=1), "precision": Setting(str, choices=PRECISIONS),
           "baselines": Setting(bool), "channels_last": Setting(bool), "compile": Setting(bool), "repeats": Setting(int, low=1), "bootstrap_resamples": Setting(int, low=100),
           "bootstrap_seed": Setting(int, low=0),
           "equivalence_margin": Setting(float, 0, 1, open="low")}


@dataclass
class ExplainSettings:
    """How detections are explained and scored: one object, checked once when a run is configured
    (a mistake is a :class:`SettingsError` naming the setting, before any work), and used alike by
    the training callback, explain.py and reproduce.py.

    Args:
        methods: registered method names (``list_methods()``; docs/methods.md lists them), or ``all``; a list, or one string
            ``gradcam,rise``.
        method_settings: per method, its settings, e.g. ``{"rise": {"n_masks": 500}}``; each is
            checked against the method's declared settings (names, types and ranges).
        scoring: the one rule by which every perturbation method and the metric score a detection
            in altered images (see :class:`Scoring`): ``{rule: matched, min_score: 0.05, min_iou:
            0.5}`` (the default, the paper's) or ``{rule: drise}``.
        step: insertion/deletion step, a share of the image area.
        batch_size: images per forward pass of the perturbation methods and the metric.
        target_min_score: detections scoring lower are not explained (nor their image, when its
            top detection scores lower).
        boxes: which detections of an image to explain: ``top`` (the paper's protocol), ``all``
            above ``target_min_score``, or an integer N: the N best of those. The same cut applies
            to each other kind of target (``top``: the missed object the net came nearest to
            finding, the most confident false positive).
        targets: what to explain, any of ``detections`` (the default), ``missed`` (annotated
            objects with no detection of their class at IoU >= 0.5 scoring >= ``target_min_score``;
            gradient methods explain the class logit of the anchor whose decoded box overlaps the
            object most, perturbation methods and the metric score the object by the best
            detection of its class at IoU >= 0.5, with no floor, or by ``anchor`` where that is the
            rule) and ``false_positives`` (detections scoring >= ``target_min_score`` with no
            annotated object of their class at IoU >= 0.5). Every table keeps the kinds apart.
        precision: ``32`` or mixed precision for the detector passes of perturbation methods and
            the metric (``bf16-mixed``, ``16-mixed``; meant for GPUs, see :class:`DetectionScorer`).
        channels_last: explain.py and reproduce.py turn a checkpoint's net to ``torch.channels_last``
            before explaining it (see :meth:`EfficientDetModule.use_channels_last`): the net's
            forward pass takes 0.5-0.7x the time on a 2-core CPU (whole methods gain less where
            decoding and masks take their share; ``benchmarks/explainer_cost.py --sections layouts``
            measures them), and maps agree with the default layout's to 1e-4. The training callback explains the net in the
            layout it trains in (the model's own ``channels_last``).
        compile: run the perturbation passes through ``torch.compile`` of the net (gradient
            methods stay eager). Compiling costs a minute or two per net on a CPU, paid at its first
            pass (logged) and once more when the batch size first changes; worth it on a GPU and for
            long runs. A net that cannot be compiled is explained eagerly, with one warning.
        baselines: also explain every box with ``random`` (a smooth random map) and ``box`` (a
            Gaussian on the box), so that every method is compared with chance and with knowing
            only where the box is.
        repeats: stochastic methods (RISE, D-RISE, SESS around them, ``random``) explain every box
            this many times. Each image draws from its own seed, derived from the method's ``seed``,
            the scene id and the spectrum (so that mask noise is independent across scenes while
            the boxes of one image share their masks), each repeat from one derived from that: the
            summary gives the seed-to-seed map correlation and the intraclass correlation of the
            AUCs, and a box's AUC in every comparison is the mean of its repeats.
        bootstrap_resamples: resamples of the bootstrap behind every 95 % interval (>= 100).
        bootstrap_seed: its seed (and the sign-flip test's, beyond 16 scenes).
        primary_comparisons: the comparisons declared before the data, held to 0.05 together
            (Holm): pairs of methods ``a:b``, e.g. ``gradcam:random,gradcam:rise``; by default
            every explained method against each baseline and the pairs among Grad-CAM, RISE and
            SIDU that were explained, on deletion and insertion AUC of detections. Every other
            comparison is exploratory (Benjamini-Hochberg q-values).
        equivalence_margin: the smallest AUC difference that matters: a comparison whose interval
            lies inside +-margin, by two one-sided tests, is "equivalent".
    """

    methods: Methods = ("gradcam", "rise", "sidu")
    method_settings: Mapping[str, Any] | None = None
    scoring: Mapping[str, Any] | None = None  # or a Scoring; typed as a mapping for the command line and configs
    step: float = 0.05
    batch_size: int = 32
    target_min_score: float = 0.05
    boxes: Boxes = "top"
    targets: Methods = ("detections",)
    precision: str = "32"
    channels_last: bool = True
    compile: bool = False
    baselines: bool = True
    repeats: int = 1
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 0
    primary_comparisons: Methods | None = None
    equivalence_margin: float = 0.02

    def __post_init__(self) -> None:
        self.methods = method_names(self.methods)
        if self.baselines is True:
            self.methods += [name for name in BASELINES if name not in self.methods]
        given = self.method_settings or {}
        if not isinstance(given, Mapping) or not all(isinstance(v, Mapping) for v in given.values()):
            raise SettingsError(f"method_settings {given!r}: give each method's settings, e.g. {{rise: {{n_masks: 500}}}}")
        for name in given:
            check_known(name)
            if name not in self.methods:
                log.warning("method_settings for %r are checked but unused: %r is not among the methods %s",
                            name, name, self.methods)
        self.method_settings = {name: dict(settings) for name, settings in given.items()}
        for name in dict.fromkeys([*self.methods, *given]):
            create(name, **self.method_settings.get(name, {}))  # every value checked now, not at the first image
        self.scoring = Scoring.from_settings(self.scoring)
        for name, setting in NUMBERS.items():
            setattr(self, name, setting.check("settings", name, getattr(self, name)))
        self.boxes = _boxes(self.boxes)
        self.targets = target_kinds(self.targets)
        self.primary = primary_pairs(self.methods, self.primary_comparisons)
        for name in {name for pair in self.primary for name in pair} - set(self.methods):
            raise SettingsError(f"primary_comparisons: {name!r} is not among the methods explained "
                                f"({', '.join(self.methods)}){closest(name, self.methods)}")

    @property
    def inference(self) -> Inference:
        return Inference(self.bootstrap_resamples, self.bootstrap_seed, self.equivalence_margin)

    def build_methods(self) -> dict[str, SaliencyMethod]:
        return {name: create(name, **self.method_settings.get(name, {})) for name in self.methods}


def _boxes(boxes: Any) -> Boxes:
    """``top``, ``all`` or a number N >= 1 (``"5"`` as typed on a command line is 5)."""
    if isinstance(boxes, str) and boxes.strip().isdigit():
        boxes = int(boxes)
    if boxes in ("top", "all") or (isinstance(boxes, int) and not isinstance(boxes, bool) and boxes >= 1):
        return boxes
    raise SettingsError(f"settings: boxes {boxes!r}: choose 'top', 'all' or a number of boxes >= 1")


def target_kinds(targets: Methods) -> list[str]:
    """The ``targets`` setting as :class:`Target` kinds, checked: ``detections,missed`` ->
    ``["detection", "missed"]``."""
    names = name_list(targets, "targets")
    if not names:
        raise SettingsError(f"targets: name at least one of {', '.join(TARGET_SETTING)}")
    for name in names:
        if name not in TARGET_SETTING:
            raise unknown_name("target kind", name, TARGET_SETTING)
    return [TARGET_SETTING[name] for name in dict.fromkeys(names)]


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


def mean_correlation(maps: Sequence[torch.Tensor]) -> float:
    """The mean Pearson correlation of the maps over every pair; NaN where a map is constant."""
    flat = torch.stack([m.detach().flatten().double().cpu() for m in maps])
    if (flat.std(dim=1) == 0).any():
        return math.nan
    r = torch.corrcoef(flat)
    pairs = torch.triu_indices(len(maps), len(maps), offset=1)
    return float(r[pairs[0], pairs[1]].mean())


class Explainer:
    """The configured methods and one scoring rule, shared by every method and by the metric."""

    def __init__(self, settings: ExplainSettings | None = None):
        self.settings = settings = settings or ExplainSettings()
        self.methods: dict[str, SaliencyMethod] = settings.build_methods()
        self.scoring = settings.scoring
        floor = self.scoring.build().min_score
        if floor > settings.target_min_score:
            log.warning("detections scoring %g to %g are explained, but the scoring rule cannot re-identify them "
                        "below %g: their perturbation maps and curves will be blank", settings.target_min_score,
                        floor, floor)
        self.step, self.batch_size, self.target_min_score = settings.step, settings.batch_size, settings.target_min_score
        self.boxes, self.precision = settings.boxes, settings.precision
        self.warned_many = False

    def methods_for(self, sample_id: str, spectrum: str) -> dict[str, SaliencyMethod]:
        """The methods as they explain one image: each stochastic one drawing from a seed of its
        own for the scene and spectrum, so that two images never share a mask set's bias."""
        keys = (zlib.crc32(sample_id.encode()), zlib.crc32(spectrum.encode()))
        return {name: method.reseeded(*keys) for name, method in self.methods.items()}

    def prepared(self, detector: Detector) -> Detector:
        """``detector`` as the settings run it: its perturbation passes compiled where ``compile`` asks."""
        return detector.compile_passes() if self.settings.compile else detector

    def check_net(self, net: nn.Module) -> None:
        """Refuse settings only a net can check (a method's ``layer``), before any image."""
        for method in self.methods.values():
            method.check_net(net)

    def scorer(self, detector: Detector, kinds: Iterable[str] = ("detection",)) -> DetectionScorer:
        """The run's scorer for targets of ``kinds``, each by its kind's rule, all on one forward
        pass per perturbed image (see :meth:`Scoring.build_for`)."""
        return DetectionScorer(detector, self.scoring.build_for(kinds), self.batch_size, self.precision)

    def targets(self, detector: Detector, image: torch.Tensor, boxes: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> tuple[list[Target], list[ObjectOutcome]]:
        """What to explain in ``image``, each kind cut to the ``boxes`` setting: its detections
        (those with an area scoring >= ``target_min_score``, best first), the annotated objects
        (``boxes`` [N, 4], ``labels`` [N]) it missed (nearest miss first) and its false positives
        (most confident first), as the ``targets`` setting asks; and how it did on every annotated
        object. Boxes are clipped to the image as effdet does, which can leave a confident box with
        no area at a corner: no IoU can match it, so nothing could explain it."""
        boxes = torch.zeros(0, 4) if boxes is None else boxes.reshape(-1, 4).float()
        labels = torch.zeros(0, dtype=torch.long) if labels is None else labels.reshape(-1)
        with torch.no_grad():
            raw = detector.raw(image[None])
            detections = detector.decode(raw)
        objects = object_outcomes(detections, boxes, labels, self.target_min_score)
        has_area = (detections.boxes[0, :, 2] > detections.boxes[0, :, 0]) & (detections.boxes[0, :, 3] > detections.boxes[0, :, 1])
        ranks = (has_area & (detections.labels[0] >= 0)).nonzero()[:, 0]
        if len(ranks) and int(ranks[0]):
            log.info("skipped %d detection(s) without area above the best one", int(ranks[0]))
        ranks = ranks[detections.scores[0, ranks] >= self.target_min_score].tolist()
        if self.boxes == "all" and len(ranks) > MANY_BOXES and not self.warned_many:
            self.warned_many = True  # once a run: the callback asks every epoch
            log.warning("boxes: all explains %d detections scoring >= %g in one image, each costing every method's "
                        "curves: raise target_min_score (an untrained or young net scores most anchors a little) or "
                        "give boxes a number", len(ranks), self.target_min_score)
        chosen: list[Target] = []
        if "detection" in self.settings.targets:
            chosen += [Target.from_detections(detections, rank=rank) for rank in self._cut(ranks)]
        if "missed" in self.settings.targets:
            missed = sorted((o for o in objects if not o.found), key=lambda o: -o.score)
            chosen += [detector.missed_target(raw, boxes[o.index], o.label, o.score) for o in self._cut(missed)]
        if "false_positive" in self.settings.targets:
            false = [rank for rank in ranks if not self._annotated(detections.boxes[0, rank], int(detections.labels[0, rank]),
                                                                   boxes, labels)]
            chosen += [Target.from_detections(detections, rank=rank, kind="false_positive") for rank in self._cut(false)]
        return chosen, objects

    def _cut(self, ordered: list) -> list:
        return ordered[:1] if self.boxes == "top" else ordered if self.boxes == "all" else ordered[:self.boxes]

    @staticmethod
    def _annotated(box: torch.Tensor, label: int, boxes: torch.Tensor, labels: torch.Tensor) -> bool:
        """Some annotated object of ``label`` overlaps ``box`` at IoU >= 0.5."""
        same = labels == label
        return bool(same.any()) and bool((box_iou(box[None].cpu(), boxes[same].cpu()) >= MATCH_IOU).any())

    def explain(self, detector: Detector, sample: Mapping, device: torch.device | str = "cpu") -> SampleExplanation:
        """Explain ``sample`` (the dataset's dict); its ``targets`` are empty when there was nothing to explain."""
        image = sample["image"].to(device)
        targets, objects = self.targets(detector, image, sample.get("boxes"), sample.get("labels"))
        results = []
        if targets:  # every kind of target on the same perturbed images: one pass serves them all
            scorer = self.scorer(detector, {target.kind for target in targets})
            attributions = spectrum_attribution(scorer, image, targets, sample["spectrum"].split("+"))
            for name, method in self.methods_for(sample["sample_id"], sample["spectrum"]).items():
                for result in self._explain_with(name, method, scorer, image, targets, sample):
                    result.spectrum_scores = attributions[result.box]
                    results.append(result)
        return SampleExplanation(sample["sample_id"], sample["spectrum"], image, targets, results, objects)

    def _explain_with(self, name: str, method: SaliencyMethod, scorer: DetectionScorer, image: torch.Tensor,
                      targets: list[Target], sample: Mapping) -> list[BoxResult]:
        def result(box: int, **outcome) -> BoxResult:
            return BoxResult(sample["sample_id"], sample["spectrum"], targets[box], box, name, step=self.step, **outcome)

        start = time.perf_counter()
        try:
            reported = method.explain_reported(scorer, image, targets)
            maps = [saliency for saliency, _ in reported]
            seconds = (time.perf_counter() - start) / len(targets)
            repeated = [method.reseeded(r).explain_all(scorer, image, targets)
                        for r in range(1, self.settings.repeats if method.stochastic else 1)]
            results = []
            annotated = sample.get("boxes", torch.zeros(0, 4)), sample.get("labels", torch.zeros(0, dtype=torch.long))
            for box, (target, saliency) in enumerate(zip(targets, maps)):
                insertion, deletion = insertion_deletion(scorer, image, saliency, target, self.step)
                results.append(result(box, saliency=saliency, insertion=insertion, deletion=deletion, seconds=seconds,
                                      localisation=localisation(saliency, target, *annotated), info=reported[box][1]))
                if repeated:
                    others = [maps_[box] for maps_ in repeated]
                    curves = [insertion_deletion(scorer, image, other, target, self.step) for other in others]
                    results[-1].repeat_aucs = [(insertion.auc, deletion.auc), *((i.auc, d.auc) for i, d in curves)]
                    results[-1].seed_correlation = mean_correlation([saliency, *others])
            return results
        except Exception:  # one broken method must not stop the others, nor training
            error = traceback.format_exc()
            log.error("explanation method %r failed on %s (%s):\n%s", name, sample["sample_id"], sample["spectrum"], error)
            seconds = (time.perf_counter() - start) / len(targets)
            return [result(box, saliency=None, insertion=None, deletion=None, seconds=seconds, error=error)
                    for box in range(len(targets))]
