"""Which values a comparison pairs: each box's value of a metric (or whether its map is blank) per
method, a - b on the same box, and the mean of each unit's differences."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..metrics import registry

if TYPE_CHECKING:
    from ..results import BoxResult


@dataclass(frozen=True)
class PairedBox:
    """One box (or object) both sides explained: its scene and a - b under each repeat (one value
    without repeats)."""

    scene: str
    differences: tuple[float, ...]

    @property
    def difference(self) -> float:
        return math.fsum(self.differences) / len(self.differences)


def box_values(results: Sequence[BoxResult], metric: str, blanks_as_random: bool = False) -> dict[tuple, np.ndarray]:
    """Per (sample, spectrum, box, method): the box's value of ``metric`` under each repeat (one
    value for a method run once), over the box's score on the unperturbed image for a
    ``_normalised`` metric, for maps that exist: not failed, not blank. ``blanks_as_random``: a blank
    map takes the ``random`` baseline's values on the same box instead (the sensitivity reading)."""
    name = registry.get(metric).name
    normalised = metric.endswith("_normalised")

    def values(r: BoxResult) -> np.ndarray:
        aucs = np.array([scores[name] for scores in r.repeat_scores] if r.repeat_scores else [r.value(name)])
        return np.array([r.normalised(auc) for auc in aucs]) if normalised else aucs

    scored = {(r.sample_id, r.spectrum, r.box, r.method): values(r) for r in results if r.scored}
    scored = {key: v for key, v in scored.items() if not np.isnan(v).any()}
    if blanks_as_random:
        for r in results:
            chance = scored.get((r.sample_id, r.spectrum, r.box, "random"))
            if r.blank and chance is not None:
                scored[(r.sample_id, r.spectrum, r.box, r.method)] = chance
    return scored


def blank_values(results: Sequence[BoxResult]) -> dict[tuple, np.ndarray]:
    """Per (sample, spectrum, box, method) that ran: 1 where its map is blank, else 0."""
    return {(r.sample_id, r.spectrum, r.box, r.method): np.array([float(r.blank)]) for r in results if r.ok}


def paired(a: np.ndarray, b: np.ndarray, scene: str) -> PairedBox:
    """a - b repeat by repeat (a side run once stands for each repeat)."""
    a, b = np.broadcast_arrays(a, b)
    return PairedBox(scene, tuple(float(x) for x in a - b))


def scene_means(boxes: Sequence[PairedBox], repeat: int | None = None) -> np.ndarray:
    """The mean difference of each unit's boxes (under one ``repeat``, or over them), unit by unit."""
    by_scene: dict[str, list[float]] = {}
    for box in boxes:
        value = box.difference if repeat is None else box.differences[min(repeat, len(box.differences) - 1)]
        by_scene.setdefault(box.scene, []).append(value)
    return np.array([math.fsum(values) / len(values) for values in by_scene.values()])
