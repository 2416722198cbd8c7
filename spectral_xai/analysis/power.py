"""How many scenes a comparison needs: from a finished run's per-box differences (how much scenes
differ and how much the boxes of one scene agree), the number of scenes at which a difference of
the equivalence margin is found with 80 % power under the primary family's correction.

The test is the sign-flip test of the per-scene means; its power is taken from the one-sample t
test on the same means (noncentral t), at Bonferroni's level alpha / m (Holm's first step, so
the figure is conservative), and never below the scenes that can reach that level at all
(two-sided sign-flip p >= 2 / 2^n).
"""
from __future__ import annotations

import math
from scipy.stats import nct, t

from .resampling import VarianceComponents, smallest_p

ALPHA = 0.05
POWER = 0.8
MAX_SCENES = 100_000


def t_power(effect: float, sd: float, scenes: int, level: float) -> float:
    """The power of a two-sided one-sample t test at ``level`` to find a mean of ``effect`` in
    ``scenes`` values of standard deviation ``sd``."""
    if scenes < 2:
        return 0.0
    if sd <= 0:
        return 1.0 if effect else 0.0
    df, shift = scenes - 1, abs(effect) / (sd / math.sqrt(scenes))
    critical = t.ppf(1 - level / 2, df)
    return float(nct.sf(critical, df, shift) + nct.cdf(-critical, df, shift))


def scenes_needed(effect: float, scene_sd: float, family_size: int, power: float = POWER, alpha: float = ALPHA) -> int:
    """The fewest scenes at which a mean difference of ``effect`` (per-scene sd ``scene_sd``) is
    found with ``power`` among ``family_size`` comparisons held to ``alpha`` together."""
    level = alpha / max(1, family_size)
    scenes = 2
    while smallest_p(scenes) > level:
        scenes += 1
    low, high = scenes, scenes
    while t_power(effect, scene_sd, high, level) < power:  # doubling, then bisection: power rises with n
        low, high = high, high * 2
        if high > MAX_SCENES:
            return MAX_SCENES
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if t_power(effect, scene_sd, middle, level) < power else (low, middle)
    return high


def scenes_needed_at(components: VarianceComponents, effect: float, family_size: int, boxes_per_scene: float | None = None,
                     power: float = POWER, alpha: float = ALPHA) -> int:
    """:func:`scenes_needed` for scenes of ``boxes_per_scene`` boxes (default: as in the run)."""
    return scenes_needed(effect, components.sd_of_group_mean(boxes_per_scene), family_size, power, alpha)


def scenes_for_equivalence_at(components: VarianceComponents, difference: float, margin: float, family_size: int,
                              power: float = POWER, alpha: float = ALPHA) -> int:
    """The fewest scenes at which two one-sided tests show a true difference of ``difference``
    (inside ``margin``) to be within +-margin with ``power``: the nearer bound's one-sided t test
    must find ``margin - |difference|``, at one-sided ``alpha / family_size`` (the farther bound's
    test then rejects too)."""
    return scenes_needed(margin - abs(difference), components.sd_of_group_mean(None), family_size, power, 2 * alpha)
