"""Pascal VOC XML: reading the dataset's annotations defensively, and writing them."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np


class AnnotationError(ValueError):
    """An annotation file that cannot be used at all (unparseable, no size, bad numbers)."""


@dataclass
class Annotation:
    boxes: np.ndarray  # [N, 4] float32 x1 y1 x2 y2 in pixels
    labels: np.ndarray  # [N] int64, index into the class list
    # What was repaired or dropped in this file, e.g. {"box_reordered": 1, "unknown_class:truck": 2}.
    fixes: Counter = field(default_factory=Counter)


def _number(obj: ET.Element, tag: str, path: Path) -> float:
    text = obj.findtext(f"bndbox/{tag}")
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: <{tag}> is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{path}: <{tag}> is {text!r}, not a finite number")
    return value


def read_voc(path: Path, class_names: Sequence[str]) -> Annotation:
    """Parse one VOC file; boxes with swapped corners are reordered, unknown names dropped.

    Both repairs are counted in ``Annotation.fixes`` so the caller can report them: the dataset is
    known to contain xmax < xmin and names outside the five classes (docs/dataset.md).
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise AnnotationError(f"{path}: not valid XML ({err})") from None
    index = {name: i for i, name in enumerate(class_names)}
    boxes, labels, fixes = [], [], Counter()
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            fixes[f"unknown_class:{name or '<empty>'}"] += 1
            continue
        if obj.find("bndbox") is None:
            raise AnnotationError(f"{path}: object {name!r} has no <bndbox>")
        x1, y1, x2, y2 = (_number(obj, t, path) for t in ("xmin", "ymin", "xmax", "ymax"))
        if x2 < x1 or y2 < y1:
            fixes["box_reordered"] += 1
            x1, x2 = sorted((x1, x2))
            y1, y2 = sorted((y1, y2))
        boxes.append((x1, y1, x2, y2))
        labels.append(index[name])
    return Annotation(
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=np.asarray(labels, dtype=np.int64),
        fixes=fixes,
    )


def write_voc(
    path: Path, filename: str, size_wh: tuple[int, int], boxes: np.ndarray, names: Sequence[str]
) -> None:
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    size = ET.SubElement(root, "size")
    for tag, value in zip(("width", "height", "depth"), (*size_wh, 3)):
        ET.SubElement(size, tag).text = str(value)
    for box, name in zip(boxes, names):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
            ET.SubElement(bndbox, tag).text = f"{float(value):.1f}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path)
