"""``explain.py --reanalyse RUN_DIR``: a finished run's comparisons asked again, without a net.
Explaining is the expensive part; the statistics are not. Every run writes what its comparisons
stand on: boxes.csv (each box's scores to the last digit, whether its map was blank, its score on
the unperturbed image, its repeats) and analysis.json (the methods, the declared pairs, which nets
are one family, the statistics settings). From those this recomputes comparisons.csv/json and a
report of the verdicts, under the run's settings or others given on the command line
(``--equivalence_margin``, ``--primary_comparisons``, ``--unit`` and the sequence settings,
``--bootstrap_seed``). With the run's settings it gives the run's comparisons.csv to the byte."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..analysis.contrasts import comparisons
from ..detection import Target
from ..explain_settings import ExplainSettings
from ..metrics import CurveResult, registry
from ..reporting.comparisons import families_paragraph, primary_rows, primary_sentences, spectrum_rows, write_comparisons
from ..reporting.html import Section, write_report
from ..results import BoxResult, GroupKey
from ..settings import UserError
from .output import claim, publish

ANALYSIS = "analysis.json"
#: The settings a reanalysis may change: only the statistics, never what was explained.
STATISTICS = ("bootstrap_resamples", "bootstrap_seed", "equivalence_margin", "primary_comparisons", "unit",
              "sequence_length", "sequence_gap", "sequences_file")


class ReanalysisError(UserError, ValueError):
    """A folder that is not a finished run this version can reanalyse."""


def write_analysis(folder: Path, settings: ExplainSettings, family_of: Mapping[str, str]) -> None:
    """analysis.json: what a reanalysis needs besides boxes.csv."""
    record = {"methods": list(settings.methods), "family_of": dict(family_of),
              "statistics": {name: getattr(settings, name) for name in STATISTICS}}
    (folder / ANALYSIS).write_text(json.dumps(record, indent=2))


def reanalyse(run: str | Path, output: str | Path, changed: Mapping[str, Any] | None = None,
              overwrite: bool = False) -> Path:
    """Recompute ``run``'s comparisons into ``output`` with the statistics settings ``changed``
    (names of :data:`STATISTICS`); returns the output folder."""
    run = Path(run)
    for needed in (ANALYSIS, "boxes.csv"):
        if not (run / needed).is_file():
            raise ReanalysisError(f"{run}: no {needed}: reanalyse a folder explain.py wrote (this version or later)")
    record = json.loads((run / ANALYSIS).read_text())
    unknown = sorted(set(changed or {}) - set(STATISTICS))
    if unknown:
        raise ReanalysisError(f"--reanalyse changes only the statistics ({', '.join(STATISTICS)}), not {', '.join(unknown)}")
    statistics = {**record["statistics"], **(changed or {})}
    checked = ExplainSettings(record["methods"], baselines=False, **statistics)  # the same checks as any run's
    groups = recorded_groups(run / "boxes.csv")
    compared = comparisons(groups, checked.methods, checked.primary, checked.inference, family_of=record["family_of"])
    described = [["setting", "value"], ["reanalysed run", str(run.resolve())],
                 *([name, str(statistics[name])] for name in STATISTICS)]

    def write(folder: Path) -> None:
        write_comparisons(folder, compared)
        write_analysis(folder, checked, record["family_of"])
        write_report(folder, "spectral-xai: comparisons reanalysed", [], [
            Section("What these numbers support", sentences=primary_sentences(compared),
                    paragraphs=[families_paragraph(compared, checked.equivalence_margin)],
                    tables=[("Primary comparisons", primary_rows(compared))]),
            Section("Which spectrum is explained better", tables=[("", spectrum_rows(compared))]),
            Section("Settings", paragraphs=["The run's boxes as explained; only the statistics below were asked again. "
                                            "Maps, curves and the other tables are the run's own, in its folder."],
                    tables=[("", described)])])

    return publish(claim(output, overwrite), write)


def recorded_groups(path: Path) -> dict[GroupKey, list[BoxResult]]:
    """The results boxes.csv records, per (model, spectrum, kind of target), in the run's order. A map
    is not kept there: a one-pixel stand-in carries whether it was blank, a one-point deletion curve
    the box's score on the unperturbed image."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "blank" not in rows[0]:
        raise ReanalysisError(f"{path}: written before boxes.csv recorded blank maps; explain the run again to reanalyse it")
    labels: dict[str, int] = {}
    metrics = [m.name for m in registry.METRICS.values()]
    groups: dict[GroupKey, list[BoxResult]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["spectrum"], row["kind"]), []).append(
            recorded_result(row, labels.setdefault(row["class"], len(labels)), metrics))
    return groups


def recorded_result(row: Mapping[str, str], label: int, metrics: Sequence[str]) -> BoxResult:
    box = torch.tensor([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
    target = Target(box, label, float(row["score"]), torch.zeros(0), -1, row["kind"])
    failed = bool(row["error"])
    full = float(row["full_score"]) if row["full_score"] else math.nan
    return BoxResult(
        row["sample_id"], row["spectrum"], target, int(row["box"]), row["method"],
        None if failed else torch.full((1, 1), 0.0 if row["blank"] == "1" else 1.0), float(row["seconds"]),
        float(row["step"]), error=row["error"] or None,
        scores={name: float(row[name]) for name in metrics if row.get(name)},
        curves={} if math.isnan(full) else {"deletion_auc": CurveResult(torch.zeros(1), torch.tensor([full]), math.nan, 0.0)},
        repeat_scores=json.loads(row["repeat_scores"]) if row["repeat_scores"] else [],
        object=int(row["object"]) if row["object"] else None)
