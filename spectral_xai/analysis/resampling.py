"""The inference behind every comparison, on one value per scene (the unit that is independent):
a seeded BCa bootstrap interval of the mean, a sign-flip permutation test of the same mean (exact
while the sign patterns are few, seeded Monte Carlo beyond), two one-sided sign-flip tests for
equivalence within a margin, Holm's and Benjamini-Hochberg's corrections, and the one-way
intraclass correlation and variance components that say how much the boxes of one scene (or the
repeats of one box) agree.

Interval, test and verdict are all about the mean over scenes: a difference the test claims is one
the interval excludes zero for, in the same direction.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import norm

#: Up to this many scenes, every one of the 2^n sign patterns is enumerated (2^16 = 65,536).
EXACT_SCENES = 16
#: Beyond it, this many seeded random sign patterns.
MONTE_CARLO_FLIPS = 20_000
ALTERNATIVES = ("two-sided", "less", "greater")


def bca_interval(values: Sequence[float], resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """The bias-corrected and accelerated bootstrap interval (Efron 1987) of the mean of ``values``
    from ``resamples`` seeded resamples. Undefined (NaN) for fewer than 2 values: one value has no
    spread to resample; a point where every value is the same."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean = float(values.mean())
    if np.all(values == values[0]):
        return mean, mean
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, n, (resamples, n))].mean(axis=1)
    # Ties at the estimate count half, so that a discrete bootstrap distribution is not biased by them.
    below = (np.count_nonzero(means < mean) + 0.5 * np.count_nonzero(means == mean)) / resamples
    bias = norm.ppf(np.clip(below, 0.5 / resamples, 1 - 0.5 / resamples))
    leave_one_out = (values.sum() - values) / (n - 1)
    spread = leave_one_out.mean() - leave_one_out
    denominator = 6 * float((spread ** 2).sum()) ** 1.5
    acceleration = float((spread ** 3).sum()) / denominator if denominator > 0 else 0.0
    z = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    quantiles = norm.cdf(bias + (bias + z) / (1 - acceleration * (bias + z)))
    low, high = np.quantile(means, quantiles)
    return float(low), float(high)


@functools.lru_cache(maxsize=4)
def sign_patterns(n: int, seed: int) -> tuple[np.ndarray, bool]:
    """The sign patterns of ``n`` values: all 2^n (exact) or MONTE_CARLO_FLIPS seeded ones; the
    second item says which. Kept for the next comparison of the run (same scenes, same seed)."""
    if n <= EXACT_SCENES:
        return (1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)).astype(np.float64), True
    return 1 - 2 * np.random.default_rng(seed).integers(0, 2, (MONTE_CARLO_FLIPS, n)).astype(np.float64), False


def subset_means(values: Sequence[float], seed: int = 0) -> tuple[np.ndarray, int, int]:
    """Where each sign pattern's test turns: flipping the signs of a subset of ``values`` after
    shifting them all by d gives a mean at least the observed one exactly when d is at least the
    subset's mean. Returns the sorted means of the flipped subsets, how many patterns flip nothing
    (they always count), and how many patterns there are (exact: 2^n; Monte Carlo: the draws)."""
    values = np.asarray(values, dtype=np.float64)
    signs, exact = sign_patterns(len(values), seed)
    flipped = signs < 0
    counts = flipped.sum(axis=1)
    means = (flipped @ values)[counts > 0] / counts[counts > 0]
    return np.sort(means), int(np.count_nonzero(counts == 0)), len(signs) if exact else -len(signs)


def _one_sided(values: np.ndarray, shift: float, seed: int) -> tuple[float, float]:
    """(p of "mean <= shift" against greater, p of "mean >= shift" against less)."""
    means, unflipped, patterns = subset_means(values, seed)
    tolerance = 1e-12 * max(1.0, float(np.abs(values).max()), abs(shift))  # the same mean, summed in another order
    at_most = unflipped + int(np.searchsorted(means, shift + tolerance, side="right"))
    at_least = unflipped + len(means) - int(np.searchsorted(means, shift - tolerance, side="left"))
    if patterns > 0:
        return at_most / patterns, at_least / patterns
    return (at_most + 1) / (-patterns + 1), (at_least + 1) / (-patterns + 1)  # Monte Carlo: count the observed pattern


def sign_flip_p(values: Sequence[float], seed: int = 0, alternative: str = "two-sided") -> float:
    """The sign-flip permutation p-value of "the mean of ``values`` is 0" (each value symmetric
    about 0 under the null): the share of sign patterns whose mean is at least as extreme in the
    alternative's direction; two-sided, twice the smaller one-sided p (capped at 1), as scipy's
    ``permutation_test`` has it, so that it rejects at level a exactly when
    :func:`sign_flip_interval` at 1 - a excludes 0. A zero value is a value, counted in the mean,
    and flipping it changes nothing. Monte Carlo p-values count the observed pattern, so they are
    never 0."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative {alternative!r}: choose from {', '.join(ALTERNATIVES)}")
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return 1.0
    greater, less = _one_sided(values, 0.0, seed)
    return {"greater": greater, "less": less, "two-sided": min(1.0, 2 * min(greater, less))}[alternative]


def sign_flip_interval(values: Sequence[float], level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """The interval of the mean that the sign-flip test gives by inversion: every shift d at which
    neither one-sided test of ``values - d`` rejects at (1 - level) / 2. Its ends are means of subsets
    of the values (:func:`subset_means`), so it is exact where the test is, and it excludes 0 exactly
    when :func:`sign_flip_p` is at most 1 - level. Where the level asks for more than the patterns can
    give, no shift is rejected: the interval is unbounded."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return math.nan, math.nan
    means, unflipped, patterns = subset_means(values, seed)
    tail = (1 - level) / 2
    # The most subset means a one-sided p of (unflipped + j) / patterns may stand above while <= tail.
    rejected = (math.floor(tail * patterns + 1e-9) - unflipped if patterns > 0
                else math.floor(tail * (-patterns + 1) + 1e-9) - 1 - unflipped)
    if rejected < 0:
        return -math.inf, math.inf
    return float(means[rejected]), float(means[len(means) - 1 - rejected])


def smallest_p(scenes: int) -> float:
    """The smallest two-sided sign-flip p-value that ``scenes`` values can give."""
    return 2 / 2 ** scenes if scenes <= EXACT_SCENES else 2 / (MONTE_CARLO_FLIPS + 1)


def equivalence_p(values: Sequence[float], margin: float, seed: int = 0) -> float:
    """Two one-sided sign-flip tests (TOST) of "the mean lies outside (-margin, margin)": the larger
    of the p-values of "mean >= margin" and "mean <= -margin"."""
    values = np.asarray(values, dtype=np.float64)
    return max(sign_flip_p(values - margin, seed, "less"), sign_flip_p(values + margin, seed, "greater"))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values (step-up, false discovery rate), in the given order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted, running = [0.0] * m, 1.0
    for position, i in enumerate(order):
        running = min(running, p_values[i] * m / (m - position))
        adjusted[i] = running
    return adjusted


def holm_levels(p_values: Sequence[float], alpha: float) -> list[float]:
    """The confidence level of each hypothesis's interval that matches Holm's step-down at ``alpha``:
    one rejected at step r (0-based, smallest p first) was tested at alpha / (m - r), each of the others
    at the level of the step that stopped, alpha / (m - k) with k rejected. An interval at that level
    excludes 0 exactly when Holm rejects (for intervals that invert their test)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    levels, stopped = [0.0] * m, m
    for rank, i in enumerate(order):
        if stopped == m and p_values[i] > alpha / (m - rank):
            stopped = rank
        levels[i] = 1 - alpha / (m - min(rank, stopped))
    return levels


def fcr_levels(p_values: Sequence[float], alpha: float) -> list[float]:
    """Benjamini and Yekutieli's (2005) false-coverage-rate level for intervals beside
    Benjamini-Hochberg at ``alpha``: 1 - R alpha / m for every hypothesis, R the number rejected (at
    least 1), so that an interval excludes 0 exactly when its q-value is at most alpha."""
    m = len(p_values)
    rejected = sum(1 for q in benjamini_hochberg(p_values) if q <= alpha)
    return [1 - max(1, rejected) * alpha / m] * m if m else []


@dataclass(frozen=True)
class VarianceComponents:
    """A value measured on several units of each group (boxes of a scene, repeats of a box): the
    variance between groups, within them, and the mean units per group."""

    between: float
    within: float
    per_group: float

    @property
    def icc(self) -> float:
        """The one-way intraclass correlation ICC(1): the share of the variance that is the group's."""
        total = self.between + self.within
        return self.between / total if total > 0 else math.nan

    def sd_of_group_mean(self, per_group: float | None = None) -> float:
        """The standard deviation of a group's mean over ``per_group`` units (default: as measured)."""
        k = self.per_group if per_group is None else per_group
        return math.sqrt(self.between + self.within / k)


def variance_components(values: Sequence[float], groups: Sequence) -> VarianceComponents:
    """One-way random-effects ANOVA estimates (unbalanced groups: the n0 of Searle et al.), the
    between-group variance floored at 0. Groups of one unit add to the between-group part only."""
    values = np.asarray(values, dtype=np.float64)
    index = np.unique(np.array([str(g) for g in groups]), return_inverse=True)[1]
    sizes = np.bincount(index).astype(np.float64)
    n, k = float(sizes.sum()), len(sizes)
    if k < 2:
        raise ValueError("variance components need at least 2 groups")
    means = np.bincount(index, values) / sizes
    between_ss = float((sizes * (means - values.mean()) ** 2).sum())
    within_ss = float(((values - means[index]) ** 2).sum())
    within = within_ss / (n - k) if n > k else 0.0
    n0 = (n - (sizes ** 2).sum() / n) / (k - 1)
    between = max(0.0, (between_ss / (k - 1) - within) / n0) if n0 > 0 else 0.0
    return VarianceComponents(between, within, n / k)
