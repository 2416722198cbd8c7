"""How far the metrics themselves can be trusted (Tomsett et al. 2020, "Sanity checks for saliency
metrics"): whether the scenes agree on how a metric ranks the methods (Krippendorff's alpha, each
scene a rater ranking the methods), and whether metrics meant to measure the same thing agree box by
box (Spearman). A metric whose rankings change from scene to scene (alpha near 0) cannot rank
methods from a few scenes, whatever its mean says."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata, spearmanr

from ..results import BoxResult
from ..metrics import registry


def same_property() -> list[tuple[str, str]]:
    """Pairs of metrics meant to measure the same property (each metric's ``same_property_as``): a
    good map has a low deletion and a high insertion AUC, so their correlation should be negative."""
    return [(m.name, m.same_property_as) for m in registry.METRICS.values() if m.same_property_as]


def checked() -> list[tuple[str, str]]:
    """Each metric against its variants (``metric_checks``): under the other fill the correlation
    should be near 1; least relevant first, a good map's AUC turns around (negative)."""
    return [(m.variant_of, m.name) for m in registry.METRICS.values() if m.variant_of]


def krippendorff_alpha(data: np.ndarray, level: str = "ordinal") -> float:
    """Krippendorff's alpha of ``data`` (raters x units, NaN where a rater gave no value): 1 when
    every rater agrees, about 0 when they agree as chance would, below 0 when they disagree more;
    NaN with fewer than two pairable values or no variation. ``level``: ``ordinal`` (values are
    ranks: distances count the values between them) or ``interval``."""
    data = np.asarray(data, dtype=float)
    pairable = [column[~np.isnan(column)] for column in data.T]
    pairable = [values for values in pairable if len(values) >= 2]
    if not pairable:
        return math.nan
    domain = np.unique(np.concatenate(pairable))
    index = {value: i for i, value in enumerate(domain)}
    coincidences = np.zeros((len(domain), len(domain)))
    for values in pairable:
        counts = np.bincount([index[v] for v in values], minlength=len(domain)).astype(float)
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (len(values) - 1)
    totals = coincidences.sum(axis=1)
    n = totals.sum()
    delta = _distances(domain, totals, level)
    expected = (np.outer(totals, totals) * delta).sum() / (n - 1)
    if expected == 0:
        return math.nan
    return float(1 - (coincidences * delta).sum() / expected)


def _distances(domain: np.ndarray, totals: np.ndarray, level: str) -> np.ndarray:
    if level == "interval":
        return np.subtract.outer(domain, domain) ** 2
    if level != "ordinal":
        raise ValueError(f"level {level!r}: choose ordinal or interval")
    cumulative = np.cumsum(totals)
    between = cumulative[:, None] - cumulative[None, :] + totals[None, :]  # sum of totals from k to c, for c >= k
    upper = np.triu(np.ones_like(between, dtype=bool), 1)
    span = np.where(upper.T, between, between.T)  # symmetric: the values from the lower to the higher one
    return (span - (totals[:, None] + totals[None, :]) / 2) ** 2 * ~np.eye(len(domain), dtype=bool)


def scene_rankings(results: Sequence[BoxResult], methods: Sequence[str], metric: str) -> np.ndarray:
    """scenes x methods: each scene's ranks of the methods by ``metric`` (1 the best; ties share
    their mean rank), from the mean over the scene's boxes of the maps that are not blank; NaN for a
    method without a value in the scene. Scenes where fewer than two methods have one are left out."""
    lower_is_better = registry.lower_is_better(metric)
    by_scene: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in results:
        if r.scored and r.method in methods and not math.isnan(r.value(metric)):
            by_scene.setdefault((r.sample_id, r.spectrum), {}).setdefault(r.method, []).append(r.value(metric))
    rows = []
    for scene in sorted(by_scene):
        means = np.array([np.mean(by_scene[scene][m]) if m in by_scene[scene] else np.nan for m in methods])
        present = ~np.isnan(means)
        if present.sum() < 2:
            continue
        ranks = np.full(len(methods), np.nan)
        ranks[present] = rankdata(means[present] if lower_is_better else -means[present])
        rows.append(ranks)
    return np.array(rows).reshape(-1, len(methods))


def metric_reliability(groups: Mapping[tuple[str, str, str], Sequence[BoxResult]], methods: Sequence[str]) -> list[dict]:
    """Per net x spectrum x kind of target and metric: Krippendorff's alpha of the scenes' rankings of
    the methods (the baselines included), with how many scenes ranked; then per pair of
    :func:`same_property` (and of :func:`checked`, where the maps were checked) the Spearman
    correlation of the two metrics over every scored (box, method)."""
    rows = []
    for (model, spectrum, kind), results in groups.items():
        held = {m.name for m in registry.held(results)}
        for metric in (m.name for m in registry.reported() if m.name in held):
            ranked = scene_rankings(results, methods, metric)
            rows.append({"model": model, "spectrum": spectrum, "targets": kind, "measure": "alpha across scenes",
                         "metric": metric, "value": krippendorff_alpha(ranked) if len(ranked) >= 2 else math.nan,
                         "n": len(ranked)})
        variants = [pair for pair in checked() if any(pair[1] in r.scores for r in results)]
        for first, second in [pair for pair in same_property() if set(pair) <= held] + variants:
            pairs = np.array([(r.value(first), r.value(second)) for r in results if r.scored]).reshape(-1, 2)
            pairs = pairs[~np.isnan(pairs).any(axis=1)]
            varied = len(pairs) >= 3 and pairs[:, 0].std() > 0 and pairs[:, 1].std() > 0
            rows.append({"model": model, "spectrum": spectrum, "targets": kind, "measure": "spearman over maps",
                         "metric": f"{first} vs {second}",
                         "value": float(spearmanr(pairs[:, 0], pairs[:, 1]).statistic) if varied else math.nan,
                         "n": len(pairs)})
    return rows
