"""What each spectrum sees that the others miss: every annotated object of the explained scenes
against every net x spectrum that saw its scene (found or missed, and its matched score), split by
day and night.

Day or night comes from a conditions file (``id,condition`` lines, as the synthetic generator
writes ``conditions.csv`` beside its images) or, where there is none (the real dataset), from the
scene's RGB image: a mean brightness below ``night_brightness`` is night. Every table says which
(``condition source``: ``file`` or ``estimate``).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torchvision.ops import box_iou

from ..data_modules import layout
from ..data_modules.images import read_image
from ..data_modules.reader import DatasetError
from ..results import BoxResult, ObjectOutcome, SampleExplanation

CONDITIONS_FILE = "conditions.csv"
CONDITIONS = ("day", "night")


@dataclass(frozen=True)
class Condition:
    name: str  # day, night, or unknown (no conditions line and no RGB image)
    source: str  # "file", "estimate" (from the RGB image's brightness) or "none"


def read_conditions(path: Path) -> dict[str, str]:
    """``id,condition`` lines (a header line ``id,condition`` is allowed); a bad line is an error
    naming the file, the line and the problem."""
    conditions = {}
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or (number == 1 and [c.strip() for c in row] == ["id", "condition"]):
                continue
            if len(row) != 2 or row[1].strip() not in CONDITIONS:
                raise DatasetError(f"{path}: line {number} {','.join(row)!r}: expected 'id,condition' with condition "
                                   f"one of {', '.join(CONDITIONS)}")
            conditions[row[0].strip()] = row[1].strip()
    return conditions


def scene_conditions(root: str | Path, sample_ids: Sequence[str], conditions_file: str | Path | None = None,
                     night_brightness: float = 0.25, image_dir: str = layout.CONVERTED_IMAGES) -> dict[str, Condition]:
    """Each scene's condition: from ``conditions_file`` (default ``<root>/conditions.csv`` where it
    exists; a file given but missing is an error), else estimated from its RGB image."""
    root = Path(root)
    path = Path(conditions_file) if conditions_file else root / CONDITIONS_FILE
    if conditions_file and not path.is_file():
        raise DatasetError(f"{path}: conditions file not found")
    listed = read_conditions(path) if path.is_file() else {}
    out = {}
    for sample_id in sample_ids:
        if sample_id in listed:
            out[sample_id] = Condition(listed[sample_id], "file")
            continue
        rgb = layout.image_path(root, image_dir, "rgb", sample_id)
        if rgb.is_file():
            night = float(read_image(rgb).mean()) < night_brightness
            out[sample_id] = Condition("night" if night else "day", "estimate")
        else:
            out[sample_id] = Condition("unknown", "none")
    return out


@dataclass
class ObjectRecord:
    """One annotated object and how each net x spectrum that saw its scene did on it."""

    scene: str
    index: int  # its row in the scene's annotations
    label: int
    condition: Condition
    outcomes: dict[str, ObjectOutcome]  # by net x spectrum ("rgb on rgb")

    @property
    def finders(self) -> list[str]:
        return [name for name, outcome in self.outcomes.items() if outcome.found]


def object_records(outcomes: Mapping[str, Mapping[str, Sequence[ObjectOutcome]]],
                   conditions: Mapping[str, Condition]) -> list[ObjectRecord]:
    """``outcomes``: per net x spectrum, per scene, its objects' outcomes -> one record per object,
    in (scene, index) order."""
    records: dict[tuple[str, int], ObjectRecord] = {}
    for name, scenes in outcomes.items():
        for scene, objects in scenes.items():
            for outcome in objects:
                record = records.setdefault((scene, outcome.index), ObjectRecord(
                    scene, outcome.index, outcome.label, conditions.get(scene, Condition("unknown", "none")), {}))
                record.outcomes[name] = outcome
    return [records[key] for key in sorted(records)]


def class_counts(records: Sequence[ObjectRecord], names: Sequence[str], class_names: Sequence[str]) -> list[dict]:
    """Per class and condition (every class together as ``all``): objects, found by each net x
    spectrum alone, by several, by none."""
    counts = []
    for label in [None, *sorted({r.label for r in records})]:
        for condition, source in sorted({(r.condition.name, r.condition.source) for r in records}):
            mine = [r for r in records if (label is None or r.label == label) and r.condition.name == condition]
            if not mine:
                continue
            finders = [r.finders for r in mine]
            counts.append({"class": "all" if label is None else class_names[label], "condition": condition,
                           "source": source, "objects": len(mine),
                           "alone": {n: sum(f == [n] for f in finders) for n in names},
                           "several": sum(len(f) > 1 for f in finders), "none": sum(not f for f in finders)})
    return counts


def pair_counts(records: Sequence[ObjectRecord], names: Sequence[str]) -> list[dict]:
    """Per ordered pair of nets x spectra and condition: of the objects both saw, how many the
    first finds and the second misses."""
    pairs = []
    for first in names:
        for second in names:
            if first == second:
                continue
            for condition, source in sorted({(r.condition.name, r.condition.source) for r in records}):
                both = [r for r in records if r.condition.name == condition and first in r.outcomes and second in r.outcomes]
                count = sum(r.outcomes[first].found and not r.outcomes[second].found for r in both)
                pairs.append({"finds": first, "misses": second, "condition": condition, "source": source,
                              "objects": len(both), "count": count})
    return pairs


def explained_box(explained: SampleExplanation, kind: str, label: int, box: Sequence[float]) -> SampleExplanation | None:
    """``explained`` cut to its one target of ``kind`` that is this object (its class, IoU >= 0.5
    with ``box``), with that target's results; None when it explained no such target."""
    for rank, target in enumerate(explained.targets):
        if target.kind == kind and target.label == label and float(
                box_iou(target.box[None].cpu().float(), torch.tensor([box], dtype=torch.float32))[0, 0]) >= 0.5:
            results = [replace(r, box=0) for r in explained.results if r.box == rank]
            return SampleExplanation(explained.sample_id, explained.spectrum, explained.image, [target], results,
                                     explained.objects)
    return None


def same_objects(first: Sequence[BoxResult], second: Sequence[BoxResult]) -> list[tuple[BoxResult, BoxResult]]:
    """Pairs of results on the same object, each result used once: where both carry the annotated
    object they are, that object (each net's best-ranked explanation of it); between results that
    carry none (an image without annotations, a false positive), the same scene and class with boxes
    overlapping at IoU >= 0.5 (the spectra of a scene are co-registered), best overlap first."""
    pairs, used = [], set()
    by_object: dict[tuple[str, int], int] = {}
    for j, two in sorted(enumerate(second), key=lambda item: item[1].box):
        if two.object is not None:
            by_object.setdefault((two.sample_id, two.object), j)
    for one in sorted(first, key=lambda result: result.box):
        if one.object is not None:
            j = by_object.get((one.sample_id, one.object))
            if j is not None and j not in used:
                used.add(j)
                pairs.append((one, second[j]))
            continue
        candidates = [(float(box_iou(one.target.box[None].cpu(), two.target.box[None].cpu())[0, 0]), j)
                      for j, two in enumerate(second) if j not in used and two.object is None
                      and two.sample_id == one.sample_id and two.target.label == one.target.label]
        best = max(candidates, default=(0.0, -1))
        if best[0] >= 0.5:
            used.add(best[1])
            pairs.append((one, second[best[1]]))
    return pairs
