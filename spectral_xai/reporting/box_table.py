"""boxes.csv, one builder for every place that writes it (the callback, explain.py, ``explain()``):
one row per explained (box, method), its place, its scores and the spectrum attribution of its box."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..data_modules.layout import SPECTRA
from ..results import BoxResult
from ..metrics import registry

LEAD = ["sample_id", "spectrum", "box", "kind", "method", "object", "x1", "y1", "x2", "y2", "class", "score"]
TAIL = ["judged_against", "seconds", "step", "masks", "map_reliability", "error", "blank", "full_score", "repeat_scores"]


def metric_columns() -> list[str]:
    """Every registered metric's columns: the drawn curves' areas first, each also over the box's score
    on the unperturbed image (``_normalised``) and as its gain over the random map's on the same box
    (``_gain_over_random``, positive where the map does better), then every other metric."""
    areas = registry.curves()
    return [*(m.name for m in areas), *(f"{m.name}_normalised" for m in areas),
            *(m.gain_column for m in areas),
            *(m.name for m in registry.METRICS.values() if m not in areas)]


def input_spectra(results: Sequence[BoxResult]) -> list[str]:
    """The spectra the results' inputs held (``rgb+mir`` holds both), in the dataset's order."""
    held = {name for r in results for name in r.spectrum.split("+")}
    return [s for s in SPECTRA if s in held]


def box_fields(spectra: Sequence[str]) -> list[str]:
    """boxes.csv's columns: the box, :func:`metric_columns`, the map's own numbers and, per spectrum
    of the input, the box's score without it and with it alone."""
    return [*LEAD, *metric_columns(), *TAIL, *(f"score_{kind}_{spectrum}" for spectrum in spectra
                                                for kind in ("without", "alone"))]


def box_row(result: BoxResult, class_names: Sequence[str], spectra: Sequence[str],
            random: Mapping[str, float] | None = None) -> list:
    """``box_fields(spectra)`` of one (box, method) result; ``box`` is the box's rank among its
    image's explained boxes (0: the best detection), its corners in the pixels of the image file (or
    array) as given, not of the net's resized input, ``kind`` what it is (detection, missed,
    false_positive), ``object`` the annotated object it is (its row in the scene's annotations: the
    same object in every net's rows; empty for a false positive or an image without annotations);
    then its metrics (:func:`metric_columns`, to the last digit; ``random``: the random map's scores on
    the same box); a metric the run did not score, or one undefined for this map, is an empty cell;
    then whether the map is blank, the box's score on the unperturbed image and, with repeats, the
    primary scores under each (JSON)."""
    target = result.target
    box = [round(v, 1) for v in result.image_box]
    return [result.sample_id, result.spectrum, result.box, target.kind, result.method, result.object, *box,
            class_names[target.label], round(target.score, 4), *_metric_cells(result, random),
            result.judged_against, round(result.seconds, 3), result.step, result.info.masks,
            _rounded(result.info.reliability), result.error or "", int(result.blank) if result.ok else None,
            _exact(result.full_score), json.dumps(result.repeat_scores) if len(result.repeat_scores) > 1 else None,
            *_attribution_cells(result, spectra)]


def _metric_cells(result: BoxResult, random: Mapping[str, float] | None) -> list:
    if not result.ok:
        return [None] * len(metric_columns())
    areas = registry.curves()
    against = random if random is not None and result.method != "random" else {}

    def gain(metric: registry.Metric) -> float:
        if metric.name not in against:
            return math.nan
        better = against[metric.name] - result.value(metric.name)
        return better if metric.lower_is_better else -better

    return [*(_exact(result.value(m.name)) for m in areas),
            *(_rounded(result.normalised(result.value(m.name))) for m in areas), *(_rounded(gain(m)) for m in areas),
            *(_exact(result.value(m.name)) for m in registry.METRICS.values() if m not in areas)]


def _attribution_cells(result: BoxResult, spectra: Sequence[str]) -> list:
    cells = []
    for spectrum in spectra:
        score = result.spectrum_scores.get(spectrum)
        cells += [round(score.without, 4), round(score.alone, 4)] if score else [None, None]
    return cells


def _exact(value: float) -> float | None:
    """A metric's value as scored, to the last digit: ``explain.py --reanalyse`` recomputes every
    comparison from these cells and must get what the run got."""
    return None if math.isnan(value) else value


def _rounded(value: float) -> float | None:
    """A score for a table: NaN (undefined for this map) becomes an empty cell."""
    return None if math.isnan(value) else round(value, 4)


def box_table(labelled: Sequence[tuple[Any, Sequence[str], BoxResult]], first: str | None = None
              ) -> tuple[list[str], list[list]]:
    """boxes.csv's columns and rows: per (label, the net's class names, result), the result's
    :func:`box_row`, after a first column ``first`` (the epoch, the model) holding its label where
    ``first`` is given."""
    spectra = input_spectra([result for *_, result in labelled])
    random = {(r.sample_id, r.spectrum, r.box): r.scores for *_, r in labelled if r.method == "random" and r.ok}
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
