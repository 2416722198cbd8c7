"""How far the metrics themselves can be trusted (Tomsett et al. 2020, "Sanity checks for saliency
metrics"): whether the scenes agree on how a metric ranks the methods (Krippendorff's alpha, each
scene a rater ranking the methods), and whether metrics meant to measure the same thing agree map by
map (Spearman). A metric whose rankings change from scene to scene (alpha near 0) cannot rank
methods from a few scenes, whatever its mean says.

Both are measured where they cannot be flattered. Alpha ranks the explainers alone: the baselines
(``random`` always last, ``box`` nearly always first) would lift it from 0 to about 0.7 with the
explainers ranked at random; the reading with them stays beside it. Two metrics are correlated within
each box, over its maps, and the correlations averaged: both AUCs grow with the box's own score, so a
correlation pooled over boxes mixes boxes (a pair that agrees perfectly within every box can show
anything from -1 to +1 pooled)."""
from __future__ import annotations

import math
from typing import Collection, Mapping, Sequence

import krippendorff
import numpy as np
from scipy.stats import binomtest, rankdata, spearmanr

from ..explainers.baselines import REFERENCES, control_of
from ..results import BoxResult
from ..metrics import registry

#: Percentiles of the scene bootstrap's 95 % intervals.
INTERVAL = (2.5, 97.5)


def same_property() -> list[tuple[str, str]]:
    """Pairs of metrics meant to measure the same property (each metric's ``same_property_as``): a
    good map has a low deletion and a high insertion AUC, so their correlation should be negative."""
    return [(m.name, m.same_property_as) for m in registry.METRICS.values() if m.same_property_as]


def checked() -> list[tuple[str, str]]:
    """Each metric against its variants (``metric_checks``): under the other fill the correlation
    should be near 1; least relevant first, a good map's AUC turns around (negative)."""
    return [(m.variant_of, m.name) for m in registry.METRICS.values() if m.variant_of]


def krippendorff_alpha(data: np.ndarray, level: str = "ordinal") -> float:
    """Krippendorff's alpha of ``data`` (raters x units, NaN where a rater gave no value), by the
    ``krippendorff`` package: 1 when every rater agrees, about 0 when they agree as chance would,
    below 0 when they disagree more; NaN where it is undefined (no unit with two values, or one
    value only). ``level``: ``ordinal`` (values are ranks) or ``interval``."""
    data = np.asarray(data, dtype=float)
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2] if data.ndim == 2 else data[:, :0]
    if pairable.size == 0 or len(np.unique(pairable[~np.isnan(pairable)])) < 2:
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):  # no expected disagreement: NaN, as above
        return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def scene_bootstrap(values: Sequence, statistic, resamples: int, seed: int) -> tuple[float, float]:
    """The 95 % percentile interval of ``statistic`` over ``resamples`` resamples of ``values`` (one
    per scene) with replacement; NaN where fewer than half the resamples give a value."""
    rng = np.random.default_rng(seed)
    count = len(values)
    if count < 2:
        return math.nan, math.nan
    drawn = [statistic([values[i] for i in rng.integers(0, count, count)]) for _ in range(resamples)]
    drawn = np.array([d for d in drawn if not math.isnan(d)])
    if len(drawn) < resamples / 2:
        return math.nan, math.nan
    low, high = np.percentile(drawn, INTERVAL)
    return float(low), float(high)


def scene_means(results: Sequence[BoxResult], methods: Sequence[str], metric: str) -> dict[tuple[str, str], np.ndarray]:
    """Per scene, each method's mean ``metric`` over the scene's scored boxes, oriented so that higher
    is better (NaN for a method without a value there)."""
    sign = -1.0 if registry.lower_is_better(metric) else 1.0
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in results:
        if r.scored and r.method in methods and not math.isnan(r.value(metric)):
            values.setdefault((r.sample_id, r.spectrum), {}).setdefault(r.method, []).append(r.value(metric))
    return {scene: sign * np.array([np.mean(by[m]) if m in by else np.nan for m in methods]) for scene, by in values.items()}


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


def within_box_spearman(results: Sequence[BoxResult], first: str, second: str) -> dict[tuple[str, str], list[float]]:
    """Per scene, the Spearman correlation of ``first`` and ``second`` over the maps of each of its
    boxes (every method and baseline that scored both; boxes with fewer than three such maps, or
    where either metric does not vary, give none)."""
    by_box: dict[tuple, list[tuple[float, float]]] = {}
    for r in results:
        pair = (r.value(first), r.value(second))
        if r.scored and not any(math.isnan(v) for v in pair):
            by_box.setdefault((r.sample_id, r.spectrum, r.target.kind, r.box), []).append(pair)
    by_scene: dict[tuple[str, str], list[float]] = {}
    for (scene, spectrum, _, _), pairs in sorted(by_box.items()):
        values = np.array(pairs)
        if len(values) >= 3 and values[:, 0].std() > 0 and values[:, 1].std() > 0:
            by_scene.setdefault((scene, spectrum), []).append(float(spearmanr(values[:, 0], values[:, 1]).statistic))
    return by_scene


def metric_reliability(groups: Mapping[tuple[str, str, str], Sequence[BoxResult]], methods: Sequence[str],
                       baselines: Collection[str] = REFERENCES, resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Per net x spectrum x kind of target and metric: Krippendorff's alpha of the scenes' rankings of
    the explainers (``methods`` but ``baselines``), with a scene-bootstrap 95 % interval and how many
    scenes ranked, and beside it the alpha with the baselines ranked too; then per pair of
    :func:`same_property` (and of :func:`checked`, where the maps were checked) the mean over scenes
    of the Spearman correlations of the two metrics within each box, with its interval (n: boxes)."""
    explainers = [m for m in methods if m not in baselines]
    rows = []
    for (model, spectrum, kind), results in groups.items():
        where = {"model": model, "spectrum": spectrum, "targets": kind}
        held = {m.name for m in registry.held(results)}
        for metric in (m.name for m in registry.reported() if m.name in held):
            ranked = scene_rankings(results, explainers, metric)
            low, high = scene_bootstrap(list(ranked), lambda rows: krippendorff_alpha(np.array(rows)), resamples, seed)
            rows.append({**where, "measure": "alpha across scenes", "metric": metric,
                         "value": krippendorff_alpha(ranked) if len(ranked) >= 2 else math.nan, "low": low, "high": high,
                         "n": len(ranked)})
            with_baselines = scene_rankings(results, methods, metric)
            rows.append({**where, "measure": "alpha across scenes, baselines ranked too", "metric": metric,
                         "value": krippendorff_alpha(with_baselines) if len(with_baselines) >= 2 else math.nan,
                         "low": math.nan, "high": math.nan, "n": len(with_baselines)})
        variants = [pair for pair in checked() if any(pair[1] in r.scores for r in results)]
        for first, second in [pair for pair in same_property() if set(pair) <= held] + variants:
            by_scene = list(within_box_spearman(results, first, second).values())
            low, high = scene_bootstrap(by_scene, _mean_of_scene_means, resamples, seed)
            rows.append({**where, "measure": "spearman within boxes", "metric": f"{first} vs {second}",
                         "value": _mean_of_scene_means(by_scene), "low": low, "high": high,
                         "n": sum(map(len, by_scene))})
    return rows


def _mean_of_scene_means(by_scene: Sequence[Sequence[float]]) -> float:
    return float(np.mean([np.mean(scene) for scene in by_scene])) if by_scene else math.nan


#: The columns of negative_controls.csv.
CONTROL_COLUMNS = ["model", "spectrum", "targets", "metric", "method", "control", "scenes", "method_better", "share", "p"]


def control_rankings(groups: Mapping[tuple[str, str, str], Sequence[BoxResult]], methods: Sequence[str]) -> list[dict]:
    """Per net x spectrum x kind of target, metric and negative control among ``methods``
    (``<method>@random_net``): in how many scenes the metric ranks the method's map above its map
    on the randomised net (each by its mean over the scene's boxes; a tie counts as not above),
    and the one-sided sign test's p that it does so in more than half of them by chance."""
    controls = [(control_of(name), name) for name in methods if control_of(name) in methods]
    rows = []
    for (model, spectrum, kind), results in groups.items():
        for metric in (m.name for m in registry.reported() if m.name in {h.name for h in registry.held(results)}):
            means = scene_means(results, methods, metric)
            for method, control in controls:
                a, b = methods.index(method), methods.index(control)
                pairs = [(v[a], v[b]) for v in means.values() if not (np.isnan(v[a]) or np.isnan(v[b]))]
                if not pairs:
                    continue
                better = sum(x > y for x, y in pairs)
                rows.append({"model": model, "spectrum": spectrum, "targets": kind, "metric": metric, "method": method,
                             "control": control, "scenes": len(pairs), "method_better": better,
                             "share": better / len(pairs),
                             "p": float(binomtest(better, len(pairs), alternative="greater").pvalue)})
    return rows
