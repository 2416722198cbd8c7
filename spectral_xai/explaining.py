"""One dataset sample through the whole path: its detections to explain (the top one, the paper's
protocol, or every one, or the N best), every configured method, each map scored by every registered
metric the settings turn on (``metrics.METRICS``: insertion and deletion under the run's one scoring
rule, how the map localises the object among the image's annotated objects, ...). A method explains all chosen boxes of an image in one call,
so that what the boxes share (RISE's masked images, one forward pass) is paid once. The training callback and
explain.py both call :class:`Explainer`; what they make of the typed results (rows, CSV, W&B
tables, figures) is ``reporting``'s job.

With ``negative_controls``, chosen methods explain every box again on the fully randomised net,
their maps scored on the trained one (rows ``<method>@random_net``).

A method that raises is logged with its traceback and reported as failed; the others still run.
"""
from __future__ import annotations

import logging
import time
import traceback
import zlib
from typing import Iterable, Mapping

import torch
from torch import nn
from torchvision.ops import box_iou

from .detection import AnchorScore, DetectionScorer, Detections, Detector, Target
from .detection.randomisation import fully_randomised
from .detection.runtime import weights_state
from .explainers import SaliencyMethod
from .explain_settings import ExplainSettings
from .results import (MATCH_IOU, BoxResult, ObjectOutcome, SampleExplanation, annotated_object, mean_correlation,
                        object_outcomes)
from .metrics import KnownCauses, Metric, ScoredMap, judged_box, score_map, spectrum_attribution
from .metrics.registry import active

log = logging.getLogger(__name__)

#: The noise seed a known cause's effect is rendered again under: how much the effect is noise.
OTHER_NOISE = 1
#: More detections than this in one image under ``boxes: all`` is warned of: a floor set too low.
MANY_BOXES = 20


def explainable_ranks(detections: Detections, min_score: float = 0.0) -> list[int]:
    """The ranks (best first) of the first image's detections that can be explained: scoring >=
    ``min_score`` and with an area. Boxes are clipped to the image as effdet does, which can leave a
    confident box with no area at an edge: no IoU can match it, so nothing could explain it."""
    boxes = detections.boxes[0]
    has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    ranks = (has_area & (detections.labels[0] >= 0)).nonzero()[:, 0]
    if len(ranks) and int(ranks[0]):
        log.info("skipped %d detection(s) without area above the best one", int(ranks[0]))
    return ranks[detections.scores[0, ranks] >= min_score].tolist()


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
        self.metrics = active(settings)
        self.warned_many = False
        #: Every row a run reports: the methods (with their baselines), then the negative controls.
        self.names = [*self.methods, *settings.controls]
        self._random: tuple[tuple[int, int], Detector] | None = None  # the trained net's state, its random copy

    def methods_for(self, sample_id: str, spectrum: str) -> dict[str, SaliencyMethod]:
        """The methods as they explain one image: each stochastic one drawing from a seed of its
        own for the scene and spectrum, so that two images never share a mask set's bias."""
        keys = (zlib.crc32(sample_id.encode()), zlib.crc32(spectrum.encode()))
        return {name: method.reseeded(*keys) for name, method in self.methods.items()}

    def prepared(self, detector: Detector) -> Detector:
        """``detector`` as the settings run it: its perturbation passes compiled where ``compile``
        asks, on the ``runtime`` the settings choose."""
        if self.settings.compile:
            detector = detector.compile_passes()
        return detector.use_runtime(self.settings.runtime, self.precision)

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
        object; a detection without area is never explained (:func:`explainable_ranks`)."""
        boxes = torch.zeros(0, 4) if boxes is None else boxes.reshape(-1, 4).float()
        labels = torch.zeros(0, dtype=torch.long) if labels is None else labels.reshape(-1)
        with torch.no_grad():
            raw = detector.raw(image[None])
            detections = detector.decode(raw)
        objects = object_outcomes(detections, boxes, labels, self.target_min_score)
        ranks = explainable_ranks(detections, self.target_min_score)
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
            boxes = sample.get("boxes", torch.zeros(0, 4)), sample.get("labels", torch.zeros(0, dtype=torch.long))
            annotated = [annotated_object(t, *boxes) for t in targets]
            judged = [judged_box(t, *boxes)[1] for t in targets]  # what a box is judged against, whatever the method
            truths = self._known_causes(scorer, image, targets, annotated, sample)
            regions = [truth.regions() if truth is not None else None for truth in truths]  # one per box, shared
            methods = self.methods_for(sample["sample_id"], sample["spectrum"])
            made = [(name, method, None) for name, method in methods.items()]
            made += [(control, methods[base], self._control_scorer(detector, methods[base], targets))
                     for base, control in zip(self.settings.negative_controls, self.settings.controls)]
            for name, method, maps_scorer in made:
                for result in self._explain_with(name, method, scorer, image, targets, sample, truths, maps_scorer):
                    result.spectrum_scores, result.object = attributions[result.box], annotated[result.box]
                    result.judged_against = judged[result.box] if result.ok else None
                    truth = truths[result.box]
                    result.cause_effects = truth.effect_of() if truth is not None else {}
                    result.cause_noise = truth.noise_of() if truth is not None else {}
                    result.cause_regions = regions[result.box]
                    result.measurable_cause = None if truth is None else truth.measurable
                    results.append(result)
        return SampleExplanation(sample["sample_id"], sample["spectrum"], image, targets, results, objects)

    def _control_scorer(self, detector: Detector, method: SaliencyMethod, targets: list[Target]) -> DetectionScorer:
        """What a negative control's maps are made with: the fully randomised copy of ``detector``
        (made once per state of its weights), under the anchor rule for a perturbation method, as
        in the sanity check (the run's rule re-identifies nothing there: every map would be blank)."""
        state = weights_state(detector.net)
        if self._random is None or self._random[0] != state:
            self._random = (state, fully_randomised(detector))
        random = self._random[1]
        if method.perturbs:
            return DetectionScorer(random, AnchorScore(), self.batch_size, self.precision)
        return self.scorer(random, {target.kind for target in targets})

    def _known_causes(self, scorer: DetectionScorer, image: torch.Tensor, targets: list[Target],
                      annotated: list[int | None], sample: Mapping) -> list[KnownCauses | None]:
        """Per target, on rendered data with ``known_causes``, its object's causes with their true
        effects: every cause rendered away (and again under another noise seed) in one scoring of
        the target; None for a target that is no annotated object, or without a scene. A scene that
        cannot be rendered (a broken description) costs its boxes their known causes, not the run."""
        causes = sample.get("causes") if self.settings.known_causes else None
        if causes is None:
            return [None] * len(targets)
        truths, again = [], None  # the image under the other noise, rendered once for every target
        for target, obj in zip(targets, annotated):
            truth = None
            if obj is not None:
                try:
                    found = causes.causes(obj)
                    changes = [cause.change for cause in found]
                    again = causes.inputs([None], noise_seed=OTHER_NOISE).to(image) if again is None else again
                    images = torch.cat([image[None], causes.inputs(changes).to(image), again,
                                        causes.inputs(changes, noise_seed=OTHER_NOISE).to(image)])
                except Exception:
                    log.exception("%s (%s): no known causes for object %d", sample["sample_id"], sample["spectrum"], obj)
                else:
                    with torch.no_grad():
                        scores = scorer.match_all(images, [target])[0].scores.float().cpu()
                    k = len(found)
                    effects, effects_again = scores[0] - scores[1:k + 1], scores[k + 1] - scores[k + 2:]
                    truth = KnownCauses([c.name for c in found], [c.kind for c in found],
                                        causes.masks(found, tuple(image.shape[-2:])), effects,
                                        (effects - effects_again).abs())
            truths.append(truth)
        return truths

    def _scored(self, scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target,
                annotated: tuple[torch.Tensor, torch.Tensor], metrics: list[Metric],
                truth: KnownCauses | None = None) -> tuple[dict, dict]:
        """One map's values of ``metrics`` and the curves behind them."""
        return score_map(ScoredMap(scorer, image, saliency, target, *annotated, self.step, self.settings.fill, truth),
                         metrics)

    def _explain_with(self, name: str, method: SaliencyMethod, scorer: DetectionScorer, image: torch.Tensor,
                      targets: list[Target], sample: Mapping, truths: list[KnownCauses | None],
                      maps_scorer: DetectionScorer | None = None) -> list[BoxResult]:
        """``name``'s maps of ``targets``, made with ``maps_scorer`` (a negative control's random net;
        default ``scorer``) and scored with ``scorer``."""
        def result(box: int, **outcome) -> BoxResult:
            return BoxResult(sample["sample_id"], sample["spectrum"], targets[box], box, name, step=self.step,
                             image_scale=sample.get("image_scale", (1.0, 1.0)), **outcome)

        start = time.perf_counter()
        try:
            reported = method.explain_reported(maps_scorer or scorer, image, targets)
            maps = [saliency for saliency, _ in reported]
            seconds = (time.perf_counter() - start) / len(targets)
            repeated = [method.reseeded(r).explain_all(scorer, image, targets)
                        for r in range(1, self.settings.repeats if method.stochastic and maps_scorer is None else 1)]
            boxes = sample.get("boxes", torch.zeros(0, 4)), sample.get("labels", torch.zeros(0, dtype=torch.long))
            primary = [m for m in self.metrics if m.primary]
            results = []
            for box, (target, saliency) in enumerate(zip(targets, maps)):
                scores, curves = self._scored(scorer, image, saliency, target, boxes, self.metrics, truths[box])
                results.append(result(box, saliency=saliency, seconds=seconds, scores=scores, curves=curves,
                                      info=reported[box][1]))
                if repeated:
                    others = [maps_[box] for maps_ in repeated]
                    results[-1].repeat_scores = [{m.name: scores[m.name] for m in primary}, *(
                        self._scored(scorer, image, other, target, boxes, primary, truths[box])[0] for other in others)]
                    results[-1].seed_correlation = mean_correlation([saliency, *others])
            return results
        except Exception:  # one broken method must not stop the others, nor training
            error = traceback.format_exc()
            log.error("explanation method %r failed on %s (%s):\n%s", name, sample["sample_id"], sample["spectrum"], error)
            seconds = (time.perf_counter() - start) / len(targets)
            return [result(box, saliency=None, seconds=seconds, error=error)
                    for box in range(len(targets))]
