"""Which spectrum truly carries a fused net's detection, against what spectrum attribution says.

Spectrum attribution replaces a whole spectrum's channels by the deletion substrate and reads the
score's drop: it cannot tell a spectrum that shows the object from one the net merely tolerates
losing. On rendered data the truth is measured instead: the box's object (and, for a running car,
its cue) rendered away in one spectrum of the input only, the score's drop that spectrum's true
effect. Per box, each side's shares over the spectra (positive drops over their sum) are compared:
whether both name the same spectrum as the one that matters most, and how far the shares lie apart
(half the summed absolute differences: 0 alike, 1 opposite). A box whose largest true effect is
within its noise (the same change under another noise seed) is counted, not compared.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from scipy.stats import binomtest

from ..results import BoxResult, GroupKey

#: What is rendered away in one spectrum at a time (the cue only on running cars).
RENDERED_AWAY = ("object", "cue")
#: The columns of spectrum_truth.csv.
COLUMNS = ["model", "spectrum", "targets", "rendered_away", "boxes", "measurable", "same_top_spectrum", "low", "high",
           "share_distance", "true_shares", "attributed_shares"]


def box_shares(result: BoxResult, what: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The true and the attributed shares of the box's input spectra for ``what`` rendered away;
    None where the box has no such known causes, or the largest true effect is within its noise."""
    spectra = result.spectrum.split("+")
    names = [f"{what} in {s}" for s in spectra]
    if len(spectra) < 2 or any(n not in result.cause_effects for n in names) or any(s not in result.spectrum_scores for s in spectra):
        return None
    effects = np.array([result.cause_effects[n] for n in names])
    noise = np.array([result.cause_noise.get(n, 0.0) for n in names])
    if effects.max() <= max(noise.max(), 1e-6):
        return None
    drops = np.array([result.target.score - result.spectrum_scores[s].without for s in spectra])
    return _shares(effects), _shares(drops)


def _shares(drops: np.ndarray) -> np.ndarray:
    """Positive drops over their sum; all zero where no spectrum's loss lowers the score."""
    positive = np.clip(drops, 0.0, None)
    total = positive.sum()
    return positive / total if total > 0 else np.zeros_like(positive)


def spectrum_truth(groups: Mapping[GroupKey, Sequence[BoxResult]]) -> list[dict]:
    """Per net x fused input x kind of target and per thing rendered away: how many boxes had it,
    how many a measurable effect, the share where spectrum attribution's top spectrum is the true one
    (with its exact binomial 95 % interval), the mean distance of the shares, and both mean shares."""
    rows = []
    for (model, spectrum, targets), results in groups.items():
        spectra = spectrum.split("+")
        if len(spectra) < 2:
            continue
        boxes = {(r.sample_id, r.box): r for r in results if r.cause_effects}
        for what in RENDERED_AWAY:
            having = [r for r in boxes.values() if f"{what} in {spectra[0]}" in r.cause_effects]
            if not having:
                continue
            compared = [shares for r in having if (shares := box_shares(r, what)) is not None]
            row = {"model": model, "spectrum": spectrum, "targets": targets, "rendered_away": what,
                   "boxes": len(having), "measurable": len(compared), "same_top_spectrum": np.nan, "low": np.nan,
                   "high": np.nan, "share_distance": np.nan, "true_shares": "", "attributed_shares": ""}
            if compared:
                true, attributed = (np.stack(side) for side in zip(*compared))
                same = int(sum(a.max() > 0 and t.argmax() == a.argmax() for t, a in zip(true, attributed)))
                interval = binomtest(same, len(compared)).proportion_ci()
                row |= {"same_top_spectrum": same / len(compared), "low": interval.low, "high": interval.high,
                        "share_distance": float(np.abs(true - attributed).sum(axis=1).mean() / 2),
                        "true_shares": _listed(spectra, true.mean(axis=0)),
                        "attributed_shares": _listed(spectra, attributed.mean(axis=0))}
            rows.append(row)
    return rows


def _listed(spectra: Sequence[str], shares: np.ndarray) -> str:
    return ", ".join(f"{s} {v:.2f}" for s, v in zip(spectra, shares))
