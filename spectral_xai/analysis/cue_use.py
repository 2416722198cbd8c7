"""Whether a net uses the decisive cue of known-cause data, measured rather than assumed: per running
car it detected, the cue rendered away (hot hood to the body's temperature, headlights off) moves the
box's score by the cue's true effect, and the same change under another noise seed by its noise. A
net that uses the cue loses most of a running car's score without it; one that cannot have learnt it
(trained on the same scenes with every cue off) moves by no more than the noise."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..results import BoxResult, GroupKey

CUE = "cue"


@dataclass(frozen=True)
class CueUse:
    running_cars: int  # detections of annotated running cars with known causes
    measurable: int  # those whose cue effect stands out of its noise
    median_effect: float  # the score's median drop without the cue (NaN without running cars)
    median_noise: float
    median_score: float  # the boxes' median score with it

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
    return CueUse(len(effects), measurable, float(np.median(effects)), float(np.median(noise)), float(np.median(scores)))


def cue_rows(groups: Mapping[GroupKey, Sequence[BoxResult]]) -> list[list[str]]:
    """The report's table: per net x spectrum (detections), how far the cue moves its running cars."""
    rows = [["model", "spectrum", "running cars", "cue effect measurable", "median effect", "median noise", "median score"]]
    for (model, spectrum, targets), results in groups.items():
        use = cue_use(results) if targets == "detection" else None
        if use is None or not use.running_cars:
            continue
        rows.append([model, spectrum, str(use.running_cars), f"{use.measurable} ({use.share:.0%})",
                     f"{use.median_effect:+.3f}", f"{use.median_noise:.3f}", f"{use.median_score:.3f}"])
    return rows
