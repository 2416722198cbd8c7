"""Which differences the explanations support: paired comparisons of methods on the same boxes and
of spectra on the same objects, with a seeded bootstrap interval, a Wilcoxon signed-rank p-value
and Holm's correction within each table.

A method's deletion AUC is better when lower, its insertion AUC when higher. A difference is
claimed only where Holm's corrected p is below 0.05; fewer than :data:`MIN_PAIRS` pairs give no
p-value at all ("too few boxes to compare"). Stochastic methods explained with ``repeats`` carry
their own noise (the spread of a box's AUC over seeds); a difference smaller than the noise of
either method is flagged as such.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import wilcoxon
from torchvision.ops import box_iou

from .evaluation import BoxResult

METRICS = ("deletion_auc", "insertion_auc")
LOWER_IS_BETTER = {"deletion_auc": True, "insertion_auc": False}
MIN_PAIRS = 5
ALPHA = 0.05
TOO_FEW = "too few boxes to compare"


def bootstrap_interval(values: Sequence[float], resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values``, from ``resamples`` seeded resamples."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def wilcoxon_p(differences: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences; 1 when every difference is 0."""
    differences = np.asarray(differences, dtype=np.float64)
    if not np.any(differences):
        return 1.0
    return float(wilcoxon(differences).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass
class Comparison:
    """``a`` against ``b`` on one metric over ``n`` pairs: the mean of a - b with its interval."""

    table: str  # "methods" (on one net and spectrum) or "spectra" (one method, across nets and spectra)
    scope: str  # the table's net/spectrum, or its method
    metric: str
    a: str
    b: str
    n: int
    mean_difference: float  # mean of a - b
    low: float
    high: float
    p: float | None  # Wilcoxon, None with fewer than MIN_PAIRS pairs
    p_holm: float | None
    noise: float  # the larger of the two sides' own noise on this metric (0 for deterministic methods)
    verdict: str = ""

    @property
    def supported(self) -> bool:
        return self.p_holm is not None and self.p_holm < ALPHA

    def sentence(self) -> str:
        """The claim in words, for the report."""
        better, worse = (self.a, self.b) if (self.mean_difference < 0) == LOWER_IS_BETTER[self.metric] else (self.b, self.a)
        lower = self.mean_difference < 0
        words = self.metric.replace("_auc", " AUC")
        noise = (f"; smaller than the methods' own seed-to-seed noise ({self.noise:.3f}), so not a difference of the methods"
                 if abs(self.mean_difference) < self.noise else "")
        return (f"{self.scope}: {better} beats {worse} on {words}: {self.a}'s is {'lower' if lower else 'higher'} than "
                f"{self.b}'s by {abs(self.mean_difference):.3f} (95 % interval {self.low:+.3f} to {self.high:+.3f}, "
                f"Holm-corrected p = {self.p_holm:.2g}, n = {self.n}){noise}.")


def _compare(table: str, scope: str, metric: str, a: str, b: str, pairs: Sequence[tuple[float, float]], noise: float,
             resamples: int, seed: int) -> Comparison:
    differences = [x - y for x, y in pairs]
    n = len(differences)
    if n == 0:
        return Comparison(table, scope, metric, a, b, 0, math.nan, math.nan, math.nan, None, None, noise, TOO_FEW)
    low, high = bootstrap_interval(differences, resamples, seed) if n > 1 else (differences[0], differences[0])
    p = wilcoxon_p(differences) if n >= MIN_PAIRS else None
    return Comparison(table, scope, metric, a, b, n, float(np.mean(differences)), low, high, p, None, noise,
                      "" if p is not None else TOO_FEW)


def _correct(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm within the table (one scope), then each row's verdict."""
    tested = [c for c in comparisons if c.p is not None]
    for comparison, adjusted in zip(tested, holm([c.p for c in tested])):
        comparison.p_holm = adjusted
        if not comparison.supported:
            comparison.verdict = "no difference shown"
        elif abs(comparison.mean_difference) < comparison.noise:
            comparison.verdict = "within the methods' own noise"
        else:
            better = comparison.a if (comparison.mean_difference < 0) == LOWER_IS_BETTER[comparison.metric] else comparison.b
            comparison.verdict = f"{better} better"
    return comparisons


def auc(result: BoxResult, metric: str) -> float:
    return result.deletion.auc if metric == "deletion_auc" else result.insertion.auc


def method_noise(results: Sequence[BoxResult], method: str, metric: str) -> float:
    """A method's own noise on ``metric``: the mean over boxes of the standard deviation of the box's
    AUC over its seeds (``repeats``); 0 for a method explained once or deterministic."""
    column = 1 if metric == "deletion_auc" else 0
    spreads = [float(np.std([aucs[column] for aucs in r.repeat_aucs])) for r in results
               if r.method == method and r.scored and len(r.repeat_aucs) > 1]
    return float(np.mean(spreads)) if spreads else 0.0


def group_name(key: tuple[str, str, str]) -> str:
    """``rgb on rgb``; ``rgb on rgb, missed objects`` for targets other than detections."""
    model, spectrum, kind = key
    return f"{model} on {spectrum}" + {"detection": "", "missed": ", missed objects",
                                       "false_positive": ", false positives"}[kind]


def compare_methods(groups: Mapping[tuple[str, str, str], Sequence[BoxResult]], methods: Sequence[str],
                    resamples: int, seed: int) -> list[Comparison]:
    """Every pair of methods on each net, spectrum and kind of target, paired by box; a box counts
    where both maps are scored (explained and not blank)."""
    rows = []
    for key, results in groups.items():
        scope = group_name(key)
        by_box = {(r.sample_id, r.spectrum, r.box, r.method): r for r in results if r.scored}
        boxes = sorted({(r.sample_id, r.spectrum, r.box) for r in results})
        table = []
        for metric in METRICS:
            for a, b in itertools.combinations(methods, 2):
                pairs = [(auc(by_box[(*box, a)], metric), auc(by_box[(*box, b)], metric)) for box in boxes
                         if (*box, a) in by_box and (*box, b) in by_box]
                noise = max(method_noise(results, a, metric), method_noise(results, b, metric))
                table.append(_compare("methods", scope, metric, a, b, pairs, noise, resamples, seed))
        rows += _correct(table)
    return rows


def same_objects(first: Sequence[BoxResult], second: Sequence[BoxResult]) -> list[tuple[BoxResult, BoxResult]]:
    """Pairs of results on the same object: the same scene, the same class, boxes overlapping at
    IoU >= 0.5 (the spectra of a scene are co-registered); each result used once, best overlap first."""
    pairs, used = [], set()
    for one in first:
        candidates = [(float(box_iou(one.target.box[None].cpu(), two.target.box[None].cpu())[0, 0]), j)
                      for j, two in enumerate(second)
                      if j not in used and two.sample_id == one.sample_id and two.target.label == one.target.label]
        best = max(candidates, default=(0.0, -1))
        if best[0] >= 0.5:
            used.add(best[1])
            pairs.append((one, second[best[1]]))
    return pairs


def compare_spectra(groups: Mapping[tuple[str, str, str], Sequence[BoxResult]], methods: Sequence[str],
                    resamples: int, seed: int) -> list[Comparison]:
    """For each method, every pair of nets/spectra that explained the same objects of the same
    scenes as the same kind of target."""
    rows = []
    for method in methods:
        table = []
        scored = {key: [r for r in results if r.method == method and r.scored] for key, results in groups.items()}
        for first, second in itertools.combinations(groups, 2):
            if first[2] != second[2]:
                continue
            matched = same_objects(scored[first], scored[second])
            for metric in METRICS:
                noise = max(method_noise(groups[first], method, metric), method_noise(groups[second], method, metric))
                table.append(_compare("spectra", method, metric, group_name(first), group_name(second),
                                      [(auc(x, metric), auc(y, metric)) for x, y in matched], noise, resamples, seed))
        rows += _correct(table)
    return rows


def comparison_records(comparisons: Sequence[Comparison]) -> list[dict]:
    return [{**asdict(c), "supported": c.supported} for c in comparisons]


def supported_sentences(comparisons: Sequence[Comparison]) -> list[str]:
    """One sentence per difference that survives Holm's correction (those within the methods' own
    noise said to be so), or a plain statement that none does and why."""
    supported = [c for c in comparisons if c.supported]
    if supported:
        return [c.sentence() for c in sorted(supported, key=lambda c: (c.table, c.scope, c.metric, c.p_holm))]
    tested = [c for c in comparisons if c.p is not None]
    few = len(comparisons) - len(tested)
    if not tested:
        return [f"Nothing can be claimed: every comparison has fewer than {MIN_PAIRS} paired boxes ({TOO_FEW}); "
                "explain more scenes or more boxes per image."]
    return [f"No difference between methods or between spectra survives Holm's correction at {ALPHA}: "
            f"{len(tested)} comparisons tested{f', {few} with too few boxes to compare' if few else ''}. "
            f"The means above differ by less than the spread of the boxes can show; explain more boxes to tell them apart."]


def comparison_scalars(comparisons: Sequence[Comparison]) -> dict[str, float]:
    """``explain/compare/<a>_vs_<b>/<metric>`` (the mean of a - b) with ``_low`` and ``_high`` (its
    95 % interval) and ``_p_holm`` where tested, for the comparisons of methods that have pairs."""
    scalars = {}
    for c in comparisons:
        if c.table == "methods" and c.n:
            key = f"explain/compare/{c.a}_vs_{c.b}/{c.metric}"
            scalars.update({key: c.mean_difference, f"{key}_low": c.low, f"{key}_high": c.high})
            if c.p_holm is not None:
                scalars[f"{key}_p_holm"] = c.p_holm
    return scalars
