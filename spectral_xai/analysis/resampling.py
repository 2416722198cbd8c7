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
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

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


def sign_flip_p(values: Sequence[float], seed: int = 0, alternative: str = "two-sided") -> float:
    """The sign-flip permutation p-value of "the mean of ``values`` is 0" (each value symmetric
    about 0 under the null): the share of sign patterns whose mean is at least as extreme. A zero
    value is a value, counted in the mean, and flipping it changes nothing. Monte Carlo p-values
    count the observed pattern, so they are never 0."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative {alternative!r}: choose from {', '.join(ALTERNATIVES)}")
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return 1.0
    observed = float(values.mean())
    signs, exact = sign_patterns(len(values), seed)
    means = signs @ values / len(values)
    tolerance = 1e-12 * max(1.0, float(np.abs(values).max()))  # the same mean, summed in another order
    if alternative == "two-sided":
        hits = np.count_nonzero(np.abs(means) >= abs(observed) - tolerance)
    elif alternative == "less":
        hits = np.count_nonzero(means <= observed + tolerance)
    else:
        hits = np.count_nonzero(means >= observed - tolerance)
    return hits / len(means) if exact else (hits + 1) / (len(means) + 1)


def smallest_p(scenes: int) -> float:
    """The smallest two-sided sign-flip p-value that ``scenes`` values can give."""
    return 2 / 2 ** scenes if scenes <= EXACT_SCENES else 1 / (MONTE_CARLO_FLIPS + 1)


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


@dataclass(frozen=True)
class HierarchicalEstimate:
    """A mean difference over training seeds and scenes: its standard error from the hierarchical
    bootstrap, the t interval and p-values (two-sided, and two one-sided tests against +-margin)
    on ``df`` degrees of freedom."""

    mean: float
    se: float
    df: int
    low: float
    high: float
    p: float
    p_equivalence: float
    seed_sd: float  # sd over the pairs of nets of their own mean over scenes


def hierarchical_bootstrap(cells: np.ndarray, paired: bool, margin: float, resamples: int, seed: int
                           ) -> HierarchicalEstimate:
    """The mean difference of ``cells`` [seeds of a, seeds of b, scenes] (each a scene's mean a - b
    for one net of each side; NaN where that pair of nets shared no object in the scene): the mean
    over pairs of nets of their mean over scenes.

    Its standard error comes from resampling as the design was drawn: the training seeds of each
    side first (``paired``: one seed index for both sides, the same net on two spectra), then the
    scenes, ``resamples`` times, seeded. Three seeds resample to few distinct sets and a bootstrap
    spread is (n - 1) / n of the variance, so the percentile interval claims too much (15 % of
    null runs at 3 seeds a side in tests/analysis/test_contrasts.py): the spread is scaled back by
    n / (n - 1) and the interval and tests use Student's t on the seeds' degrees of freedom
    (n_a + n_b - 2; n - 1 paired)."""
    seeds_a, seeds_b, scenes = cells.shape
    rng = np.random.default_rng(seed)

    def estimate(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
        # a, b: [R, seeds] net indices; s: [R, scenes] scene indices -> [R] estimates
        picked = cells[a[:, :, None, None], b[:, None, :, None], s[:, None, None, :]]  # [R, seeds a, seeds b, scenes]
        if paired:
            picked = picked[:, np.arange(seeds_a), np.arange(seeds_a)][:, :, None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample whose pairs share no scene
            return np.nanmean(np.nanmean(picked, axis=-1).reshape(len(picked), -1), axis=1)

    mean = float(estimate(np.arange(seeds_a)[None], np.arange(seeds_b)[None], np.arange(scenes)[None])[0])
    a = rng.integers(0, seeds_a, (resamples, seeds_a))
    b = a if paired else rng.integers(0, seeds_b, (resamples, seeds_b))
    means = estimate(a, b, rng.integers(0, scenes, (resamples, scenes)))
    n = min(seeds_a, seeds_b)
    se = float(np.std(means[np.isfinite(means)], ddof=1)) * math.sqrt(n / (n - 1))
    df = n - 1 if paired else seeds_a + seeds_b - 2
    half = float(student_t.ppf(0.975, df)) * se
    per_pair = np.nanmean(cells, axis=-1)
    per_pair = np.diagonal(per_pair) if paired else per_pair.ravel()
    per_pair = per_pair[np.isfinite(per_pair)]
    p = float(2 * student_t.sf(abs(mean) / se, df)) if se > 0 else float(mean == 0)
    p_equivalence = (float(max(student_t.sf((mean + margin) / se, df), student_t.sf((margin - mean) / se, df))) if se > 0
                     else float(abs(mean) >= margin))
    return HierarchicalEstimate(mean, se, df, mean - half, mean + half, p, p_equivalence,
                                float(np.std(per_pair, ddof=1)) if len(per_pair) > 1 else math.nan)
