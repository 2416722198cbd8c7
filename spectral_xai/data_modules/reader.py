"""Indexing the dataset on disk: which samples exist, their boxes, their split, and what was skipped.

The split is made of scenes, not of images: it is a function of the annotated ids (every XML that
parses) and the seed only, or it is read from a file. A net then uses each part restricted to the
ids it can read, so nets of different spectra share one split and differ only by their unreadable ids.

One broken sample (an XML that does not parse, an image missing for one spectrum) is skipped,
logged with its path and counted in :class:`SkipReport`; a dataset that is unusable as a whole
(missing folder, no annotations, a requested spectrum absent, an empty split) raises
:class:`DatasetError` naming the path.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from . import layout
from .layout import DatasetError
from .sequences import Sequences
from .images import ImageReadError, read_size_wh
from .voc import Annotation, AnnotationError, read_voc

log = logging.getLogger(__name__)

SplitName = Literal["random", "blocked", "vis_ok", "file"]
PARTS = ("train", "val", "test")
Split = dict[str, list[str]]  # part -> sorted sample ids


@dataclass(frozen=True)
class SampleRecord:
    sample_id: str
    paths: dict[str, Path]  # spectrum -> PNG
    boxes: np.ndarray  # [N, 4] x1 y1 x2 y2, pixels of the image
    labels: np.ndarray  # [N] class indices
    size_wh: tuple[int, int]
    scene: Path | None = None  # its description, on rendered data (layout.SCENES)


@dataclass
class SkipReport:
    """What the index left out or repaired, by reason; logged once and kept for the user."""

    skipped: Counter = field(default_factory=Counter)  # whole samples
    repaired: Counter = field(default_factory=Counter)  # boxes fixed or dropped inside kept samples

    def summary(self) -> str:
        parts = [f"skipped samples: {dict(self.skipped) or 'none'}", f"box repairs: {dict(self.repaired) or 'none'}"]
        return "; ".join(parts)


@dataclass
class DatasetIndex:
    """``records``: the samples readable for the requested spectra; ``annotated_ids``: every id whose
    annotation parses, readable or not, which is what a split is made of."""

    records: list[SampleRecord]
    report: SkipReport
    annotated_ids: list[str]


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found")


def index_dataset(
    root: str | Path,
    spectra: Sequence[str],
    class_names: Sequence[str] = layout.CLASS_NAMES,
    image_dir: str = layout.CONVERTED_IMAGES,
    annotation_dir: str = layout.CONVERTED_ANNOTATIONS,
) -> DatasetIndex:
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
    annotated: list[str] = []
    for xml_path in xml_files:
        try:
            annotation = read_voc(xml_path, class_names)
        except AnnotationError as err:
            report.skipped["bad_annotation"] += 1
            log.warning("skipping %s: %s", xml_path.stem, err)
            continue
        annotated.append(xml_path.stem)
        record = _sample_record(xml_path, annotation, {s: layout.image_path(root, image_dir, s, xml_path.stem) for s in spectra},
                                report)
        if record is not None:
            scene = layout.scene_path(root, record.sample_id)
            records.append(replace(record, scene=scene) if scene.is_file() else record)

    if not records:
        raise DatasetError(f"{root}: no usable samples for spectra {list(spectra)} ({report.summary()})")
    if report.skipped or report.repaired:
        log.warning("%s: %d usable samples; %s", root, len(records), report.summary())
    return DatasetIndex(records, report, annotated)


def _sample_record(xml_path: Path, annotation: Annotation, paths: dict[str, Path], report: SkipReport
                   ) -> SampleRecord | None:
    """The sample with its boxes clipped to its images, or None (counted in ``report``) where an
    image is missing, unreadable or of another size than the others."""
    sample_id = xml_path.stem
    missing = [s for s, p in paths.items() if not p.is_file()]
    if missing:
        report.skipped[f"missing_image:{','.join(missing)}"] += 1
        log.warning("skipping %s: no image for %s (%s)", sample_id, missing, paths[missing[0]])
        return None
    try:
        sizes = {read_size_wh(p) for p in paths.values()}
    except ImageReadError as err:
        report.skipped["unreadable_image"] += 1
        log.warning("skipping %s: %s", sample_id, err)
        return None
    if len(sizes) != 1:
        report.skipped["spectra_differ_in_size"] += 1
        log.warning("skipping %s: images differ in size across spectra %s", sample_id, sorted(sizes))
        return None
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
    return SampleRecord(sample_id, paths, boxes[keep], annotation.labels[keep], (width, height))


def split_ids(
    root: str | Path,
    sample_ids: Sequence[str],
    split: SplitName,
    test_fraction: float,
    val_fraction: float,
    seed: int,
    split_file: str | Path | None = None,
    sequences: Sequences | None = None,
) -> Split:
    """Partition the annotated ids into train / val / test.

    ``random``: a seeded permutation, the first ``test_fraction`` to test (the paper's 1:4).
    ``blocked``: the same over runs of consecutive frames (``sequences``, default: consecutive ids),
    each run kept whole in one part, validation too: a random split of frames shot one second apart
    puts near copies of test frames into training.
    ``vis_ok``: the ids with a ``vis_ok`` image are the test set (as public code does).
    ``file``: the parts as ``split_file`` gives them (see :func:`read_split_file`); ids it names
    that are not annotated are dropped (logged), annotated ids it does not name are left out.
    Unless the file gives a ``val`` part, ``val_fraction`` of the non-test ids, seeded, is held out
    for validation.
    """
    ids = sorted(sample_ids)
    rng = np.random.default_rng(seed)
    given_val = None
    if split == "random":
        order = [ids[i] for i in rng.permutation(len(ids))]
        n_test = int(round(test_fraction * len(ids)))
        test, rest = order[:n_test], order[n_test:]
    elif split == "blocked":
        test, given_val, rest = _blocked(ids, sequences or Sequences(), test_fraction, val_fraction, rng)
    elif split == "vis_ok":
        vis_dir = Path(root) / layout.VIS_OK
        _require_dir(vis_dir, "vis_ok")
        checked = {p.stem for p in vis_dir.glob("*.png")}
        test = [i for i in ids if i in checked]
        rest = [ids[i] for i in rng.permutation(len(ids)) if ids[i] not in checked]
    elif split == "file":
        if split_file is None:
            raise DatasetError("split 'file' needs split_file: a JSON file or a folder of train/val/test .txt lists")
        parts = read_split_file(split_file)
        known = set(ids)
        unknown = sorted(i for part in parts.values() for i in part if i not in known)
        if unknown:
            log.warning("%s: %d id(s) without a usable annotation dropped, e.g. %s", split_file, len(unknown), unknown[:5])
        test = [i for i in parts["test"] if i in known]
        train = [i for i in parts["train"] if i in known]
        rest = [train[i] for i in rng.permutation(len(train))]
        if "val" in parts:
            given_val = [i for i in parts["val"] if i in known]
    else:
        raise DatasetError(f"unknown split {split!r}; choose 'random', 'blocked', 'vis_ok' or 'file'")
    n_val = 0 if given_val is not None else int(round(val_fraction * len(rest)))
    val = given_val if given_val is not None else rest[:n_val]
    parts = {"train": sorted(rest[n_val:]), "val": sorted(val), "test": sorted(test)}
    for name, part in parts.items():
        if not part and (name != "val" or val_fraction > 0):
            raise DatasetError(f"{root}: the {split!r} split leaves no {name} samples out of {len(ids)}")
    return parts


def _blocked(ids: Sequence[str], sequences: Sequences, test_fraction: float, val_fraction: float,
             rng: np.random.Generator) -> tuple[list[str], list[str], list[str]]:
    """Test, validation and training ids of whole runs of frames, the runs in a seeded order."""
    runs = runs_of(ids, sequences)
    runs = [runs[i] for i in rng.permutation(len(runs))]
    test, rest = _take_runs(runs, test_fraction * len(ids))
    val, train = _take_runs(rest, val_fraction * sum(map(len, rest)))
    return tuple([i for run in part for i in run] for part in (test, val, train))


def runs_of(ids: Sequence[str], sequences: Sequences) -> list[list[str]]:
    """The ids' runs of frames (each in id order), in the order of their first ids."""
    runs: dict[str, list[str]] = {}
    for sample_id, run in sorted(sequences.of(ids).items()):
        runs.setdefault(run, []).append(sample_id)
    return [runs[name] for name in sorted(runs)]


def _take_runs(runs: Sequence[list[str]], frames: float) -> tuple[list, list]:
    """Whole runs from the front until they hold about ``frames`` frames (never overshooting by more
    than half the run that would), and the rest."""
    taken, count = 0, 0
    while taken < len(runs) and count + len(runs[taken]) / 2 <= frames:
        count += len(runs[taken])
        taken += 1
    return list(runs[:taken]), list(runs[taken:])


def read_split_file(path: str | Path) -> Split:
    """A published split: a JSON file ``{"train": [...], "val": [...], "test": [...]}`` (as
    train.py writes it in ``split.json``; ``val`` optional), or a folder holding ``train.txt``,
    ``test.txt`` and optionally ``val.txt`` with one sample id per line."""
    path = Path(path)
    if path.is_dir():
        parts = {name: [line.strip() for line in (path / f"{name}.txt").read_text().splitlines() if line.strip()]
                 for name in PARTS if (path / f"{name}.txt").is_file()}
    elif path.is_file():
        try:
            parts = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetError(f"{path}: not a JSON split file ({err})") from None
        if not isinstance(parts, dict) or not all(isinstance(v, list) for v in parts.values()):
            raise DatasetError(f"{path}: a split file maps train, val and test to lists of sample ids")
        parts = {name: [str(i) for i in ids] for name, ids in parts.items() if name in PARTS}
    else:
        raise DatasetError(f"{path}: split file not found")
    lacking = [name for name in ("train", "test") if name not in parts]
    if lacking:
        raise DatasetError(f"{path}: the split lacks its {' and '.join(lacking)} part")
    seen: dict[str, str] = {}
    for name, ids in parts.items():
        for i in ids:
            if seen.setdefault(i, name) != name:
                raise DatasetError(f"{path}: sample {i} is in both {seen[i]} and {name}")
    return parts


def restrict_split(split: Split, readable: Sequence[str], root: str | Path) -> Split:
    """Each part restricted to the ids this net can read; a part left empty (other than val) is an error."""
    keep = set(readable)
    parts = {name: [i for i in split.get(name, []) if i in keep] for name in PARTS}
    for name in PARTS:
        dropped = len(split.get(name, [])) - len(parts[name])
        if dropped:
            log.info("%s part: %d of %d ids unreadable for these spectra", name, dropped, len(split[name]))
        if not parts[name] and name != "val" and split.get(name):
            raise DatasetError(f"{root}: none of the {len(split[name])} {name} ids of the split is readable "
                               f"for these spectra")
    return parts
