"""Indexing the dataset on disk: which samples exist, their boxes, their split, and what was skipped.

One broken sample (an XML that does not parse, an image missing for one spectrum) is skipped,
logged with its path and counted in :class:`SkipReport`; a dataset that is unusable as a whole
(missing folder, no annotations, a requested spectrum absent, an empty split) raises
:class:`DatasetError` naming the path.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from . import layout
from .images import ImageReadError, read_size_wh
from .voc import AnnotationError, read_voc

log = logging.getLogger(__name__)

SplitName = Literal["random", "vis_ok"]


class DatasetError(ValueError):
    """The dataset as a whole cannot be used as configured."""


@dataclass(frozen=True)
class SampleRecord:
    sample_id: str
    paths: dict[str, Path]  # spectrum -> PNG
    boxes: np.ndarray  # [N, 4] x1 y1 x2 y2, pixels of the image
    labels: np.ndarray  # [N] class indices
    size_wh: tuple[int, int]


@dataclass
class SkipReport:
    """What the index left out or repaired, by reason; logged once and kept for the user."""

    skipped: Counter = field(default_factory=Counter)  # whole samples
    repaired: Counter = field(default_factory=Counter)  # boxes fixed or dropped inside kept samples

    def summary(self) -> str:
        parts = [f"skipped samples: {dict(self.skipped) or 'none'}", f"box repairs: {dict(self.repaired) or 'none'}"]
        return "; ".join(parts)


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found")


def index_dataset(
    root: str | Path,
    spectra: Sequence[str],
    class_names: Sequence[str] = layout.CLASS_NAMES,
    image_dir: str = layout.CONVERTED_IMAGES,
    annotation_dir: str = layout.CONVERTED_ANNOTATIONS,
) -> tuple[list[SampleRecord], SkipReport]:
    """Every annotated id that has a readable PNG for each requested spectrum, with clean boxes.

    Boxes are clipped to the image; those left with no area are dropped (counted). Images of one
    sample must share a size so that boxes and stacked spectra line up; a sample whose spectra
    differ in size is skipped.
    """
    root = Path(root)
    _require_dir(root, "dataset root")
    ann_root = root / annotation_dir
    _require_dir(ann_root, "annotation")
    for spectrum in spectra:
        if spectrum not in layout.SPECTRA:
            raise DatasetError(f"unknown spectrum {spectrum!r}; choose from {layout.SPECTRA}")
        _require_dir(root / image_dir / spectrum, f"image folder for spectrum {spectrum!r}:")
    xml_files = sorted(ann_root.glob("*.xml"))
    if not xml_files:
        raise DatasetError(f"{ann_root}: no .xml annotation files")

    report = SkipReport()
    records: list[SampleRecord] = []
    for xml_path in xml_files:
        sample_id = xml_path.stem
        paths = {s: layout.image_path(root, image_dir, s, sample_id) for s in spectra}
        missing = [s for s, p in paths.items() if not p.is_file()]
        if missing:
            report.skipped[f"missing_image:{','.join(missing)}"] += 1
            log.warning("skipping %s: no image for %s (%s)", sample_id, missing, paths[missing[0]])
            continue
        try:
            sizes = {read_size_wh(p) for p in paths.values()}
            annotation = read_voc(xml_path, class_names)
        except ImageReadError as err:
            report.skipped["unreadable_image"] += 1
            log.warning("skipping %s: %s", sample_id, err)
            continue
        except AnnotationError as err:
            report.skipped["bad_annotation"] += 1
            log.warning("skipping %s: %s", sample_id, err)
            continue
        if len(sizes) != 1:
            report.skipped["spectra_differ_in_size"] += 1
            log.warning("skipping %s: images differ in size across spectra %s", sample_id, sorted(sizes))
            continue
        (width, height), = sizes
        report.repaired.update(annotation.fixes)
        for reason, count in annotation.fixes.items():
            log.warning("%s: %d box(es) %s", xml_path, count, reason.replace("_", " "))
        boxes = annotation.boxes.copy()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        if not keep.all():
            report.repaired["box_empty_after_clipping"] += int((~keep).sum())
            log.warning("%s: %d box(es) outside the image or without area dropped", xml_path, int((~keep).sum()))
        records.append(SampleRecord(sample_id, paths, boxes[keep], annotation.labels[keep], (width, height)))

    if not records:
        raise DatasetError(f"{root}: no usable samples for spectra {list(spectra)} ({report.summary()})")
    if report.skipped or report.repaired:
        log.warning("%s: %d usable samples; %s", root, len(records), report.summary())
    return records, report


def split_ids(
    root: str | Path,
    sample_ids: Sequence[str],
    split: SplitName,
    test_fraction: float,
    val_fraction: float,
    seed: int,
) -> dict[str, list[str]]:
    """Partition ids into train / val / test.

    ``random``: a seeded permutation, the first ``test_fraction`` to test (the paper's 1:4).
    ``vis_ok``: the ids with a ``vis_ok`` image are the test set (as public code does). Either way
    ``val_fraction`` of the remaining ids, seeded, is held out for validation. Ids, not images, are
    split, so no scene is seen in training under one spectrum and tested under another.
    """
    ids = sorted(sample_ids)
    rng = np.random.default_rng(seed)
    if split == "random":
        order = [ids[i] for i in rng.permutation(len(ids))]
        n_test = int(round(test_fraction * len(ids)))
        test, rest = order[:n_test], order[n_test:]
    elif split == "vis_ok":
        vis_dir = Path(root) / layout.VIS_OK
        _require_dir(vis_dir, "vis_ok")
        checked = {p.stem for p in vis_dir.glob("*.png")}
        test = [i for i in ids if i in checked]
        rest = [ids[i] for i in rng.permutation(len(ids)) if ids[i] not in checked]
    else:
        raise DatasetError(f"unknown split {split!r}; choose 'random' or 'vis_ok'")
    n_val = int(round(val_fraction * len(rest)))
    parts = {"train": sorted(rest[n_val:]), "val": sorted(rest[:n_val]), "test": sorted(test)}
    for name, part in parts.items():
        if not part and (name != "val" or val_fraction > 0):
            raise DatasetError(f"{root}: the {split!r} split leaves no {name} samples out of {len(ids)}")
    return parts
