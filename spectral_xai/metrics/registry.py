"""Every score a map gets, registered as the methods are: a metric is one module that declares
itself with :func:`register`, and boxes.csv, the report's tables and plots, the logged scalars, the
comparisons and the metrics' reliability all read :data:`METRICS` instead of naming metrics.

A metric scores one map of one box (:class:`ScoredMap`) against what it judges by (``detector``: the
detector's score on altered images; ``annotations``: the annotated objects; ``known_causes``: the
parts that truly moved the detector) and says which way is better. A *primary* metric is compared
between methods (the primary family of comparisons, with Holm's correction) and re-scored for each
repeat of a stochastic method; the others are reported beside it. A metric that is a *variant* of
another (the same AUC under another fill, or least relevant first) measures the metric itself: the
reliability table sets it against the one it varies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from ..detection import DetectionScorer, Target
from ..settings import SettingsError

JUDGES = ("detector", "annotations", "known_causes")


@dataclass
class ScoredMap:
    """One map of one box, with everything a metric may score it against."""

    scorer: DetectionScorer  # the run's scoring rule, on the run's detector
    image: torch.Tensor  # [C, H, W] as the detector takes it
    saliency: torch.Tensor  # [H, W], non-negative
    target: Target
    annotated_boxes: torch.Tensor  # [N, 4] input pixels; empty for an image without annotations
    annotated_labels: torch.Tensor  # [N], 0-based
    step: float  # share of the image area a curve moves per step
    fill: Mapping[str, str]  # what deleted pixels become and inserted pixels are put into
    truth: Any = None  # on rendered data, the box's known causes (metrics.known_causes.KnownCauses)
    # What several metrics of the same map would each compute (its localisation): computed once.
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """A registered metric: how it scores a map and how it is read."""

    name: str  # its column in boxes.csv and its key in results, scalars and comparisons
    judges: str  # what the map is scored against: one of :data:`JUDGES`
    lower_is_better: bool
    # The map's value (NaN where undefined for it), or the curve whose area it is (``curve``).
    compute: Callable[[ScoredMap], Any]
    label: str  # in sentences and on plots' axes: "deletion AUC"
    short: str  # a table's column: "deletion"
    primary: bool = False  # compared between methods in the primary family; re-scored per repeat
    # Its value is the area under a curve of the target's score (a CurveResult): boxes.csv adds the
    # area over the box's score on the unperturbed image and its gain over the random map's.
    curve: bool = False
    switch: str | None = None  # the explanation setting that turns it on; None: always scored
    variant_of: str | None = None  # the metric it varies (another fill or order): a check of that one
    same_property_as: str | None = None  # another metric meant to measure what this one measures
    # The smallest difference that matters on this metric's own scale (equivalence and "by less than
    # what matters"); None: the run's ``equivalence_margin``, which is stated for AUCs.
    margin: float | None = None

    @property
    def gain_column(self) -> str:
        """boxes.csv's column of a curve metric's gain over the random map: ``deletion_gain_over_random``."""
        return f"{self.name.removesuffix('_auc')}_gain_over_random"

    @property
    def direction(self) -> str:
        return "lower is better" if self.lower_is_better else "higher is better"


#: name -> metric, in the order they were registered (the order of every table's columns).
METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS`; a second metric of the same name is a mistake."""
    if metric.name in METRICS:
        raise ValueError(f"a metric named {metric.name!r} is registered already")
    if metric.judges not in JUDGES:
        raise ValueError(f"metric {metric.name!r}: judges {metric.judges!r}, choose one of {', '.join(JUDGES)}")
    METRICS[metric.name] = metric
    return metric


def unregister(name: str) -> None:
    """Remove a registered metric (a test's own, say)."""
    METRICS.pop(name, None)


def get(name: str) -> Metric:
    """The metric ``name`` or ``<name>_normalised`` (its area over the box's full score) stands for."""
    base = name.removesuffix("_normalised")
    if base not in METRICS:
        raise SettingsError(f"unknown metric {name!r}: choose one of {', '.join(METRICS)}")
    return METRICS[base]


def lower_is_better(name: str) -> bool:
    return get(name).lower_is_better


def active(settings: Any) -> list[Metric]:
    """The metrics a run with ``settings`` scores: those always on and those its switches turn on."""
    return [m for m in METRICS.values() if m.switch is None or getattr(settings, m.switch, False)]


def primary() -> list[Metric]:
    """The metrics the methods are compared on."""
    return [m for m in METRICS.values() if m.primary]


def reported() -> list[Metric]:
    """The metrics a method's table reports: every one but the variants, which check a metric."""
    return [m for m in METRICS.values() if m.variant_of is None]


def curves() -> list[Metric]:
    """The curve metrics a method's curves are drawn for (the variants' curves are not drawn)."""
    return [m for m in reported() if m.curve]


def held(results: Iterable[Any], metrics: Iterable[Metric] | None = None) -> list[Metric]:
    """Of ``metrics`` (default: every registered one), those always scored and those a setting
    switches on that some result holds a value of: what a table of ``results`` shows, so that a
    metric a run did not score (known causes on the real dataset) adds no empty column or row."""
    results = list(results)
    return [m for m in (METRICS.values() if metrics is None else metrics)
            if m.switch is None or any(not math.isnan(r.scores.get(m.name, math.nan)) for r in results)]


def spectrum_metrics(metrics: Iterable[Metric]) -> list[str]:
    """What spectra are compared on: the primary ``metrics``, a curve's area over the box's score on
    the unperturbed image (``<name>_normalised``), so that a net less sure of its boxes does not get
    a lower deletion AUC for free (the raw areas stay in the tables)."""
    return [f"{m.name}_normalised" if m.curve else m.name for m in metrics if m.primary]


def score_map(scored: ScoredMap, metrics: Sequence[Metric]) -> tuple[dict[str, float], dict[str, Any]]:
    """Each metric's value of one map, and the curves behind those that are areas."""
    values, curves_ = {}, {}
    for metric in metrics:
        value = metric.compute(scored)
        if metric.curve:
            curves_[metric.name], value = value, value.auc
        values[metric.name] = float(value)
    return values, curves_
