"""How one comparison is made and decided: paired differences (of methods on the same boxes, of
spectra on the same objects; :mod:`spectral_xai.analysis.contrasts` says which are made), with the
independent unit as the unit: the scene, or on frames shot in sequence the run of frames
(``Inference.unit``).

Every paired difference (a - b on one box, each side the mean of its ``repeats``) is averaged within
its unit first; the estimand is the mean over units. Its p-value is a sign-flip test of the
per-unit means and its interval the same test inverted, at the level the family's correction tested
it at (Holm's step, or Benjamini and Yekutieli's false-coverage level), so that a verdict never
disagrees with the interval shown beside it (:mod:`spectral_xai.analysis.resampling`); the 95 %
interval without adjustment is kept in comparisons.csv.

A blank map is its own outcome: the AUCs are compared over the boxes where both maps exist, and
each pair's blank rates by their own exact paired test (family ``blanks``); the reading that puts a
blank map at the ``random`` baseline's AUC of its box stays as a sensitivity line (family
``sensitivity``), since a few blanks make a one-sided tail no test of the mean calibrates.

Comparisons are declared before the data: the *primary* family (by default every explained method
against the ``box`` and ``random`` baselines, and the pairs among the paper's Grad-CAM, RISE and
SIDU, on deletion and insertion AUC, for detections) is held to 0.05 together by Holm's correction
and ends each comparison as better / worse / equivalent (within ``equivalence_margin``, by two
one-sided tests) / undecided. Everything else is *exploratory*: Benjamini-Hochberg q-values,
never quoted as a finding.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from ..explainers.baselines import REFERENCES, control_of
from ..metrics import registry
from .power import scenes_for_equivalence_at, scenes_needed_at
from .seeds import smallest_difference
from .resampling import (VarianceComponents, benjamini_hochberg, equivalence_p, fcr_levels, holm, holm_levels,
                         sign_flip_interval, sign_flip_p, smallest_p, variance_components)
from ..data_modules.sequences import Sequences
from .pairing import PairedBox, scene_means
from ..settings import SettingsError, name_list

ALPHA = 0.05
#: Fewer scenes than this make a BCa interval's coverage unreliable; the comparison says so.
FEW_SCENES = 10
PAPER_METHODS = ("gradcam", "rise", "sidu")
TOO_FEW = "too few scenes to compare"
VERDICTS = ("better", "worse", "equivalent", "undecided", TOO_FEW)
UNITS = ("scene", "sequence")
#: How often a method's map is blank (a share of its boxes, lower is better): compared in family ``blanks``.
BLANK_RATE = "blank_rate"
BLANK_MARGIN = 0.1
#: Which intervals match each correction's decisions.
LEVELS = {holm: holm_levels, benjamini_hochberg: fcr_levels}


@dataclass(frozen=True)
class Inference:
    """How every comparison of a run is made: the bootstrap's resamples and seed (the sign-flip
    test's Monte Carlo uses the seed too) and the smallest difference that matters."""

    resamples: int = 2000
    seed: int = 0
    margin: float = 0.02
    unit: str = "scene"  # or "sequence": a run of consecutive frames (``sequences``) is one unit
    sequences: Sequences = field(default_factory=Sequences)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise SettingsError(f"unit {self.unit!r}: choose one of {', '.join(UNITS)}")

    def margin_for(self, metric: str) -> float:
        """The smallest difference that matters for ``metric``: its own where it declares one (a rank
        correlation or a share lives on another scale than an AUC), else :attr:`margin`."""
        if metric == BLANK_RATE:
            return BLANK_MARGIN
        own = registry.get(metric).margin
        return self.margin if own is None else own

    def units(self, sample_ids: Iterable[str]) -> dict[str, str]:
        """Each scene's unit: itself, or its run of frames."""
        ids = list(sample_ids)
        return {i: i for i in ids} if self.unit == "scene" else self.sequences.of(ids)


@dataclass
class Comparison:
    """``a`` against ``b`` on one metric: the mean over scenes of the per-scene mean of a - b."""

    table: str  # "methods" (on one net and spectrum) or "spectra" (one method, across nets and spectra)
    # "primary" (declared, Holm), "blanks" (the primary pairs' blank rates, Holm), "sensitivity" (the primary
    # pairs with blank maps at the random map's AUC, Holm) or "exploratory" (Benjamini-Hochberg)
    family: str
    scope: str  # the table's net/spectrum, or its method
    metric: str
    a: str
    b: str
    scenes: int  # units: scenes, or runs of frames
    boxes: int
    nonzero: int  # boxes whose difference is not 0
    mean_difference: float
    low: float  # its interval at the family's level (:attr:`level`), by inverting the test
    high: float
    p: float | None  # two-sided sign-flip test of the per-scene means; None below 2 scenes
    p_equivalence: float | None  # two one-sided tests against +-margin
    margin: float
    repeat_sd: float  # the spread (sd over repeats) of the run-level mean difference; NaN without repeats
    scene_sd: float  # sd of the per-scene means
    between_scenes: float  # variance components of the box differences (power.py sizes runs from them)
    within_scenes: float
    within_scene_icc: float  # how much the boxes of one scene agree: ICC(1) of the box differences
    boxes_per_scene: float
    p_adjusted: float | None = None  # Holm within the primary family, BH q-value among the exploratory
    p_equivalence_adjusted: float | None = None
    family_size: int = 0
    reachable: bool = False  # whether these scenes can give an adjusted p below 0.05 at all
    # Undecided primary ones, for 80 % power at these boxes per scene: a difference the size of the
    # margin; the difference observed (None where it is 0); equivalence if the true difference is the
    # observed one (None where that is not inside the margin: no number of scenes would show it).
    scenes_needed: int | None = None
    scenes_to_decide: int | None = None
    scenes_for_equivalence: int | None = None
    # Undecided primary ones over several nets (``test`` "t"): the smallest difference these nets and units
    # find with 80 % power, where the spread between nets, which more units do not shrink, counts too.
    difference_found: float | None = None
    nets: int = 1  # nets a side: more than one where the training seed is a random effect
    verdict: str = TOO_FEW
    note: str = ""
    level: float = 0.95  # the confidence level of low and high
    low_unadjusted: float = math.nan  # the 95 % interval, without the family's adjustment
    high_unadjusted: float = math.nan
    unit: str = "scene"
    test: str = "sign-flip"  # or "t" (a contrast over training seeds): what p and the interval come from
    # The interval at a level; None where there is nothing to test. Not a record: the files keep its results.
    interval_at: Callable[[float], tuple[float, float]] | None = field(default=None, repr=False, compare=False)

    @property
    def decided(self) -> bool:
        return self.verdict in ("better", "worse", "equivalent")

    @property
    def verdict_label(self) -> str:
        """The verdict as the report shows it: a difference decided but whose whole interval lies
        inside +-margin is "better, by less than the margin" (one that does not matter)."""
        if self.verdict in ("better", "worse") and -self.margin < self.low and self.high < self.margin:
            return f"{self.verdict}, by less than the margin (±{self.margin:g})"
        return self.verdict

    @property
    def components(self) -> VarianceComponents:
        return VarianceComponents(self.between_scenes, self.within_scenes, self.boxes_per_scene)

    @property
    def adjustment(self) -> str:
        return f"Holm over {self.family_size}" if self.family == "primary" else f"BH q over {self.family_size}"

    @property
    def interval_name(self) -> str:
        """What the interval is: "95 %", or the simultaneous level its family's correction implies."""
        level = f"{percent(self.level)} %"
        return level if self.family == "exploratory" or self.level == 0.95 else f"{level} (simultaneous)"

    def sentence(self) -> str:
        """The verdict in words, with the interval, p and the numbers behind it."""
        words = metric_label(self.metric)
        counts = f"{self.scenes} {self.unit}s, {self.boxes} boxes"
        noise = f"; over repeats the difference moves by sd {self.repeat_sd:.3f}" if self.repeat_sd > 0 else ""
        interval = f"{self.interval_name} interval {self.low:+.3f} to {self.high:+.3f}"
        if self.verdict == "equivalent":
            return (f"{self.scope}, {words}: {self.a} and {self.b} are equivalent within ±{self.margin:g}: difference "
                    f"{self.mean_difference:+.3f} ({interval}; equivalence p = {self.p_equivalence_adjusted:.2g}, "
                    f"{self.adjustment}; {counts}){noise}.")
        lower = self.mean_difference < 0
        winner, loser = (self.a, self.b) if self.verdict == "better" else (self.b, self.a)
        small = (f", less than the {self.margin:g} that matters" if -self.margin < self.low and self.high < self.margin
                 else "")
        return (f"{self.scope}, {words}: {winner} is better than {loser}: {self.a}'s is {'lower' if lower else 'higher'} by "
                f"{abs(self.mean_difference):.3f}{small} ({interval}; p = {self.p_adjusted:.2g}, {self.adjustment}; "
                f"{counts}){noise}.")


def percent(level: float) -> str:
    """A confidence level in per cent with the digits that keep it below 100 (a simultaneous level of
    0.99962 is "99.96", not "100")."""
    for digits in range(4, 9):
        text = f"{100 * level:.{digits}g}"
        if float(text) < 100 or level >= 1:
            return text
    return text


def metric_label(metric: str) -> str:
    """A compared metric in words: "deletion AUC", "deletion AUC_normalised", "blank rate"."""
    if metric == BLANK_RATE:
        return "blank rate"
    found = registry.get(metric)
    return metric.replace(found.name, found.label)


def lower_is_better(metric: str) -> bool:
    return True if metric == BLANK_RATE else registry.lower_is_better(metric)


def compare(table: str, family: str, scope: str, metric: str, a: str, b: str, boxes: Sequence[PairedBox],
            inference: Inference) -> Comparison:
    """One comparison's estimate, unadjusted interval and p-values (adjusted by :func:`decide`);
    each box's ``scene`` is its unit."""
    means = scene_means(boxes)
    scenes = len(means)
    differences = [box.difference for box in boxes]
    repeats = max((len(box.differences) for box in boxes), default=1)
    repeat_sd = (float(np.std([scene_means(boxes, r).mean() for r in range(repeats)], ddof=1)) if repeats > 1
                 else math.nan)
    components = (variance_components(differences, [box.scene for box in boxes]) if scenes >= 2
                  else VarianceComponents(math.nan, math.nan, len(boxes) / max(1, scenes)))
    tested, margin = scenes >= 2, inference.margin_for(metric)
    interval_at = (lambda level: sign_flip_interval(means, level, inference.seed)) if tested else None
    low, high = interval_at(0.95) if tested else (math.nan, math.nan)
    return Comparison(
        table, family, scope, metric, a, b, scenes, len(boxes), int(np.count_nonzero(differences)),
        float(means.mean()) if scenes else math.nan, low, high,
        sign_flip_p(means, inference.seed) if tested else None,
        equivalence_p(means, margin, inference.seed) if tested else None,
        margin, repeat_sd, float(np.std(means, ddof=1)) if tested else math.nan, components.between,
        components.within, components.icc, components.per_group,
        note=f"fewer than {FEW_SCENES} {inference.unit}s: the interval's coverage rests on symmetry alone"
        if 0 < scenes < FEW_SCENES else "", low_unadjusted=low, high_unadjusted=high, unit=inference.unit,
        interval_at=interval_at)


def decide(comparisons: Sequence[Comparison], correction: Callable[[Sequence[float]], list[float]],
           inference: Inference) -> None:
    """Adjust the p-values of one family together, give each comparison its interval at the level
    the correction tested it at, and its verdict: better or worse where the adjusted test rejects
    (the interval then excludes 0 on the same side); equivalent where the adjusted equivalence test
    rejects and the interval lies inside +-margin; else undecided (or too few scenes)."""
    tested = [c for c in comparisons if c.p is not None]
    levels = LEVELS[correction]([c.p for c in tested], ALPHA)
    for c, p, p_equivalence, level in zip(tested, correction([c.p for c in tested]),
                                          correction([c.p_equivalence for c in tested]), levels):
        c.p_adjusted, c.p_equivalence_adjusted, c.family_size = p, p_equivalence, len(tested)
        if c.interval_at is not None:
            c.level = level
            c.low, c.high = c.interval_at(level)
        c.reachable = c.test != "sign-flip" or smallest_p(c.scenes) * (len(tested) if c.family != "exploratory" else 1) <= ALPHA
        lower = c.mean_difference < 0
        if p <= ALPHA and (c.high < 0 or c.low > 0):
            c.verdict = "better" if lower == lower_is_better(c.metric) else "worse"
        elif p_equivalence <= ALPHA and -c.margin < c.low and c.high < c.margin:
            c.verdict = "equivalent"
        else:
            c.verdict = "undecided"
        if c.family == "primary" and not c.decided and c.test == "t":
            # Scenes alone cannot size a test over nets: its standard error keeps the nets' spread.
            found = (smallest_difference(c.repeat_sd, c.scene_sd, c.nets, c.scenes, paired=c.table == "methods",
                                         level=ALPHA / len(tested)) if math.isfinite(c.repeat_sd) else math.inf)
            c.difference_found = found if math.isfinite(found) else None
        elif c.family == "primary" and not c.decided:
            c.scenes_needed = scenes_needed_at(c.components, c.margin, len(tested))
            observed = abs(c.mean_difference)
            c.scenes_to_decide = scenes_needed_at(c.components, observed, len(tested)) if observed > 0 else None
            c.scenes_for_equivalence = (scenes_for_equivalence_at(c.components, observed, c.margin, len(tested))
                                        if observed < c.margin else None)
        if not c.reachable:
            c.note = "; ".join(filter(None, [c.note, f"{c.scenes} {c.unit}s cannot reach p < {ALPHA} after the correction"]))


def primary_pairs(methods: Sequence[str], declared: str | Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The primary family's pairs of methods: ``declared`` (``a:b`` names) or the default, every
    explained method against each baseline and the pairs among the paper's methods explained."""
    if declared:
        pairs = []
        for text in name_list(declared, "primary_comparisons"):
            a, sep, b = text.partition(":")
            if not sep or a == b:
                raise SettingsError(f"primary_comparisons: {text!r}: write two different methods as a:b, e.g. gradcam:random")
            pairs.append((a, b))
        return pairs
    explained = [m for m in methods if m not in REFERENCES and control_of(m) is None]
    pairs = [(m, base) for m in explained for base in REFERENCES if base in methods]
    return pairs + list(itertools.combinations([m for m in PAPER_METHODS if m in explained], 2))


def group_name(key: tuple[str, str, str]) -> str:
    """``rgb on rgb``; ``rgb on rgb, missed objects`` for targets other than detections."""
    model, spectrum, kind = key
    return f"{model} on {spectrum}" + {"detection": "", "missed": ", missed objects",
                                       "false_positive": ", false positives"}[kind]
