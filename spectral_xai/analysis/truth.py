"""Which metric ranks the methods as the truth would, on rendered data.

Reliability (does a metric agree with itself) cannot say whether a metric is right. Where the known
causes of every box were measured (each part rendered away, the score change its true effect), the
truth ranks the maps too: by how well each map ranks the causes (``part_ranking``). Per scene, every
other metric ranks the methods and baselines by its mean over the scene's boxes, the truth ranks
them by theirs, and Kendall's tau-b compares the two rankings (1: the metric orders the maps as the
truth does; 0: as chance would). The mean tau over scenes, with a scene bootstrap's interval, says
whether a metric agrees with the truth; paired over the same scenes, whether one metric agrees more
than another (is deletion under ROAD's fill closer to the truth than under zeros?). Intervals are
simultaneous over a net x spectrum's metrics (and, apart, over its pairs): Bonferroni's
percentiles, so that a verdict among a dozen is still one at 5 %.
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import kendalltau

from ..metrics import registry
from ..results import BoxResult
from .reliability import checked, scene_means

#: The metric the truth ranks maps by.
TRUTH = "part_ranking"
#: The columns of metric_truth.csv.
COLUMNS = ["model", "spectrum", "targets", "compared", "metric", "against", "scenes", "mean_tau", "low", "high", "verdict"]


def scene_taus(results: Sequence[BoxResult], methods: Sequence[str], metric: str, truth: str = TRUTH) -> dict[tuple[str, str], float]:
    """Per scene, Kendall's tau-b between ``metric``'s ranking of the methods and the truth's, over the
    methods both scored there (at least three); scenes where either ranking is all ties give none."""
    judged, true = scene_means(results, methods, metric), scene_means(results, methods, truth)
    taus = {}
    for scene in sorted(set(judged) & set(true)):
        both = ~np.isnan(judged[scene]) & ~np.isnan(true[scene])
        if both.sum() < 3:
            continue
        tau = kendalltau(judged[scene][both], true[scene][both]).statistic
        if not math.isnan(tau):
            taus[scene] = float(tau)
    return taus


def _interval(values: np.ndarray, resamples: int, seed: int, family: int) -> tuple[float, float]:
    """A scene-bootstrap percentile interval of the mean, simultaneous over ``family`` intervals."""
    if len(values) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = 2.5 / family
    low, high = np.percentile(means, (tail, 100 - tail))
    return float(low), float(high)


def _verdict(low: float, high: float, above: str, below: str) -> str:
    if math.isnan(low):
        return "too few scenes"
    return above if low > 0 else below if high < 0 else "undecided"


def compared_metrics(results: Sequence[BoxResult]) -> list[str]:
    """The metrics a run scored that judge maps by the detector or the annotations (every AUC and its
    checks, the pointing games, ODI): what the truth judges."""
    held = registry.held(results)
    return [m.name for m in held if m.judges != "known_causes" and any(not math.isnan(r.value(m.name)) for r in results)]


def metric_truth(groups: Mapping[tuple[str, str, str], Sequence[BoxResult]], methods: Sequence[str],
                 resamples: int = 2000, seed: int = 0, truth: str = TRUTH) -> list[dict]:
    """Per net x spectrum x kind of target: each metric's mean tau with the truth over scenes, its
    interval and verdict (``agrees`` / ``disagrees`` / ``undecided``), then pairs of metrics by their
    paired difference of tau (``closer`` / ``farther``: the first metric to the truth than the
    second): each check against the metric it varies (ROAD's deletion against the run's), and the
    reported metrics among themselves. Empty where no box had known causes (``truth`` never scored)."""
    rows = []
    for (model, spectrum, kind), results in groups.items():
        if not any(not math.isnan(r.value(truth)) for r in results):
            continue
        where = {"model": model, "spectrum": spectrum, "targets": kind}
        metrics = compared_metrics(results)
        taus = {metric: scene_taus(results, methods, metric, truth) for metric in metrics}
        for index, metric in enumerate(metrics):
            values = np.array(list(taus[metric].values()))
            low, high = _interval(values, resamples, seed + index, len(metrics))
            rows.append({**where, "compared": "with the truth", "metric": metric, "against": truth, "scenes": len(values),
                         "mean_tau": float(values.mean()) if len(values) else math.nan, "low": low, "high": high,
                         "verdict": _verdict(low, high, "agrees", "disagrees")})
        reported = [m.name for m in registry.reported() if m.name in metrics]
        pairs = [(variant, base) for base, variant in checked() if base in metrics and variant in metrics]
        pairs += list(combinations(reported, 2))
        for index, (first, second) in enumerate(pairs):
            shared = sorted(set(taus[first]) & set(taus[second]))
            differences = np.array([taus[first][s] - taus[second][s] for s in shared])
            low, high = _interval(differences, resamples, seed + len(metrics) + index, len(pairs))
            rows.append({**where, "compared": "with another metric", "metric": first, "against": second,
                         "scenes": len(shared), "mean_tau": float(differences.mean()) if len(shared) else math.nan,
                         "low": low, "high": high, "verdict": _verdict(low, high, "closer", "farther")})
    return rows
