"""Whether a net uses the decisive cue of known-cause data, measured rather than assumed: per running
car explained (detected, or missed and explained as such), the cue rendered away (hot hood to the body's temperature, headlights off) moves the
box's score by the cue's true effect, and the same change under another noise seed by its noise. A
net that uses the cue loses most of a running car's score without it; one that cannot have learnt it
(trained on the same scenes with every cue off) moves by no more than the noise. Per box, "stands
out of the noise" is a weak test (two small effects of nothing exceed their difference by chance),
so whether a net uses the cue is read from the mean effect over its running cars and its interval."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from ..results import BoxResult, GroupKey

CUE = "cue"


@dataclass(frozen=True)
class CueUse:
    running_cars: int  # detections of annotated running cars with known causes
    measurable: int  # those whose cue effect stands out of its noise
    median_effect: float  # the score's median drop without the cue (NaN without running cars)
    median_noise: float
    median_score: float  # the boxes' median score with it
    mean_effect: float = float("nan")  # over the running cars, with its 95 % t interval
    low: float = float("nan")
    high: float = float("nan")

    @property
    def share(self) -> float:
        return self.measurable / self.running_cars if self.running_cars else float("nan")


def cue_use(results: Sequence[BoxResult]) -> CueUse:
    """The cue's effect on each box of ``results`` that has one (each box once, whatever its methods)."""
    boxes = {(r.sample_id, r.spectrum, r.box, r.target.kind): r for r in results if CUE in r.cause_effects}
    effects = np.array([r.cause_effects[CUE] for r in boxes.values()])
    noise = np.array([r.cause_noise.get(CUE, 0.0) for r in boxes.values()])
    scores = np.array([r.target.score for r in boxes.values()])
    if not len(effects):
        return CueUse(0, 0, float("nan"), float("nan"), float("nan"))
    measurable = int((np.abs(effects) > np.maximum(noise, 1e-6)).sum())
    mean, low, high = float(effects.mean()), float("nan"), float("nan")
    if len(effects) >= 2:
        low, high = stats.t.interval(0.95, len(effects) - 1, loc=mean, scale=max(stats.sem(effects), 1e-12))
    return CueUse(len(effects), measurable, float(np.median(effects)), float(np.median(noise)), float(np.median(scores)),
                  mean, float(low), float(high))


#: The columns of known_causes.csv.
COLUMNS = ["model", "spectrum", "targets", "boxes", "with_known_causes", "measurable", "running_cars", "cue_measurable",
           "mean_cue_effect", "low", "high", "median_cue_effect", "median_cue_noise", "median_running_car_score"]


def known_cause_rows(groups: Mapping[GroupKey, Sequence[BoxResult]]) -> list[dict]:
    """Per net x spectrum x kind of target: how many explained boxes had known causes (annotated
    objects of rendered scenes), how many a cause that stands out of the noise, and how far the
    cue moves its running cars (:func:`cue_use`)."""
    rows = []
    for (model, spectrum, targets), results in groups.items():
        boxes = {(r.sample_id, r.box): r.measurable_cause for r in results}
        known = [m for m in boxes.values() if m is not None]
        use = cue_use(results)
        rows.append({"model": model, "spectrum": spectrum, "targets": targets, "boxes": len(boxes), "with_known_causes": len(known),
                     "measurable": sum(known), "running_cars": use.running_cars, "cue_measurable": use.measurable,
                     "mean_cue_effect": use.mean_effect, "low": use.low, "high": use.high,
                     "median_cue_effect": use.median_effect, "median_cue_noise": use.median_noise,
                     "median_running_car_score": use.median_score})
    return rows
