"""How much two maps of the same box agree: the Spearman rank correlation behind the sanity check
(a map against the randomised net's) and behind the training callback's stability (a scene's map
against its map at the previous explained epoch)."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Hashable, Mapping

import numpy as np
import torch
from scipy.stats import spearmanr


def spearman(a: torch.Tensor, b: torch.Tensor, support: bool = False) -> float:
    """Spearman rank correlation of two maps (ties share their mean rank) over their pixels, or with
    ``support`` over the pixels where either is non-zero; NaN when either is constant there."""
    x, y = a.detach().flatten().cpu().double().numpy(), b.detach().flatten().cpu().double().numpy()
    if support:
        inside = (x != 0) | (y != 0)
        x, y = x[inside], y[inside]
    if len(x) < 3 or x.min() == x.max() or y.min() == y.max():
        return math.nan
    return float(spearmanr(x, y).statistic)


def stability(previous: Mapping[tuple[Hashable, str], torch.Tensor], current: Mapping[tuple[Hashable, str], torch.Tensor]
              ) -> dict[str, float]:
    """Per method, the mean Spearman correlation of each box's map with its map in ``previous``:
    maps keyed by (box key, method); boxes missing from either side, or with a constant map on
    either, do not count, and a method with none left has no entry."""
    correlations = defaultdict(list)
    for key, saliency in current.items():
        if key in previous:
            rho = spearman(previous[key], saliency)
            if not math.isnan(rho):
                correlations[key[1]].append(rho)
    return {method: float(np.mean(values)) for method, values in correlations.items()}
