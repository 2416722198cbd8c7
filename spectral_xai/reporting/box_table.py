"""boxes.csv, one builder for every place that writes it (the callback, explain.py, ``explain()``):
one row per explained (box, method), its place, its scores and the spectrum attribution of its box."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

from ..data_modules.layout import SPECTRA
from ..explained import BoxResult
from ..metrics import CHECKS

LOCALISATION = ("pointing_game", "energy_pointing_game", "odi")
BOX_FIELDS = ["sample_id", "spectrum", "box", "kind", "method", "object", "x1", "y1", "x2", "y2", "class", "score",
              "insertion_auc", "deletion_auc", "insertion_auc_normalised", "deletion_auc_normalised",
              "insertion_gain_over_random", "deletion_gain_over_random", *CHECKS, *LOCALISATION, "judged_against", "seconds",
              "step", "masks", "map_reliability", "error"]


def input_spectra(results: Sequence[BoxResult]) -> list[str]:
    """The spectra the results' inputs held (``rgb+mir`` holds both), in the dataset's order."""
    held = {name for r in results for name in r.spectrum.split("+")}
    return [s for s in SPECTRA if s in held]


def box_fields(spectra: Sequence[str]) -> list[str]:
    """:data:`BOX_FIELDS` and, per spectrum of the input, the box's score without it and with it alone."""
    return [*BOX_FIELDS, *(f"score_{kind}_{spectrum}" for spectrum in spectra for kind in ("without", "alone"))]


def box_row(result: BoxResult, class_names: Sequence[str], spectra: Sequence[str],
            random: tuple[float, float] | None = None) -> list:
    """``box_fields(spectra)`` of one (box, method) result; ``box`` is the box's rank among its
    image's explained boxes (0: the best detection), its corners in the pixels of the image file (or
    array) as given, not of the net's resized input, ``kind`` what it is (detection, missed,
    false_positive), ``object`` the annotated object it is (its row in the scene's annotations: the
    same object in every net's rows; empty for a false positive or an image without annotations). Each AUC also over the box's score on the unperturbed image (``_normalised``),
    and its gain over the random map's on the same box (``random``: its insertion and deletion AUC;
    insertion higher, deletion lower is a gain); with ``metric_checks``, its AUCs under the other fill
    and least relevant first."""
    target = result.target
    box = [round(v, 1) for v in result.image_box]
    aucs = [None] * 6
    if result.ok:
        ins, dele = result.insertion.auc, result.deletion.auc
        gains = [ins - random[0], random[1] - dele] if random and result.method != "random" else [math.nan, math.nan]
        aucs = [round(ins, 4), round(dele, 4), *(_rounded(v) for v in (result.normalised(ins), result.normalised(dele),
                                                                        *gains))]
    found = result.localisation
    located = [*(_rounded(getattr(found, name)) for name in LOCALISATION), found.against] if found else [None] * 4
    attribution = []
    for spectrum in spectra:
        score = result.spectrum_scores.get(spectrum)
        attribution += [round(score.without, 4), round(score.alone, 4)] if score else [None, None]
    return [result.sample_id, result.spectrum, result.box, target.kind, result.method, result.object, *box, class_names[target.label],
            round(target.score, 4), *aucs, *(_rounded(result.checks[name]) if name in result.checks else None for name in CHECKS),
            *located, round(result.seconds, 3), result.step, result.info.masks,
            _rounded(result.info.reliability), result.error or "", *attribution]


def _rounded(value: float) -> float | None:
    """A score for a table: NaN (undefined for this map) becomes an empty cell."""
    return None if math.isnan(value) else round(value, 4)


def box_table(labelled: Sequence[tuple[Any, Sequence[str], BoxResult]], first: str | None = None
              ) -> tuple[list[str], list[list]]:
    """boxes.csv's columns and rows: per (label, the net's class names, result), the result's
    :func:`box_row`, after a first column ``first`` (the epoch, the model) holding its label where
    ``first`` is given."""
    spectra = input_spectra([result for *_, result in labelled])
    random = {(r.sample_id, r.spectrum, r.box): (r.insertion.auc, r.deletion.auc) for *_, r in labelled
              if r.method == "random" and r.ok}
    lead = [first] if first else []
    rows = [[*([label] if first else []), *box_row(result, names, spectra, random.get((result.sample_id, result.spectrum,
                                                                                      result.box)))]
            for label, names, result in labelled]
    return [*lead, *box_fields(spectra)], rows


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
