"""The paired comparisons as files, table rows, sentences and scalars: comparisons.csv/json, the
report's primary table and paragraph, its verdicts in words, and the callback's scalars."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from ..analysis.statistics import ALPHA, FEW_SCENES, TOO_FEW, Comparison, metric_label
from .box_table import write_csv

COMPARISON_FIELDS = ["table", "family", "scope", "metric", "a", "b", "unit", "test", "scenes", "boxes", "nonzero",
                     "mean_difference", "level", "low", "high", "low_unadjusted", "high_unadjusted", "p", "p_adjusted", "p_equivalence", "p_equivalence_adjusted", "family_size", "margin",
                     "verdict", "repeat_sd", "scene_sd", "within_scene_icc", "boxes_per_scene", "scenes_needed",
                     "scenes_to_decide", "scenes_for_equivalence", "note"]


def write_comparisons(folder: Path, comparisons: Sequence[Comparison]) -> None:
    """comparisons.csv and comparisons.json: every paired comparison, its family, interval, p-values
    (raw and adjusted within the family: Holm for the primary, Benjamini-Hochberg for the exploratory)
    and verdict."""
    records = comparison_records(comparisons)
    (folder / "comparisons.json").write_text(json.dumps({"alpha": ALPHA, "rows": records}, indent=2))
    write_csv(folder / "comparisons.csv", COMPARISON_FIELDS,
              [[_cell(record[name]) for name in COMPARISON_FIELDS] for record in records])


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 4) if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"
    return "" if value is None else value


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.2g}"


def _interval(c: Comparison) -> str:
    return "" if math.isnan(c.low) else f"[{c.low:+.3f}, {c.high:+.3f}]"


def primary_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """The primary family as the report shows it, one row per comparison with its verdict."""
    return family_rows(comparisons, "primary")


def blank_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """The primary pairs where a map was blank: their blank rates, then each metric with blank maps at
    the random map's AUC (the sensitivity reading); only the header where no map was blank."""
    return family_rows(comparisons, "blanks") + family_rows(comparisons, "sensitivity")[1:]


def family_rows(comparisons: Sequence[Comparison], family: str) -> list[list[str]]:
    """One family's comparisons as the report shows them, each with its verdict and its interval at
    the family's level."""
    rows = [["net / spectrum", "metric", "a", "b", "a - b", "interval (simultaneous)", "p (Holm)", "equivalence p (Holm)",
             "units", "boxes", "verdict", "units to decide it (as observed)"]]
    for c in comparisons:
        if c.family == family:
            rows.append([c.scope, metric_label(c.metric) + (", blank = random" if family == "sensitivity" else ""), c.a, c.b,
                         "" if math.isnan(c.mean_difference) else f"{c.mean_difference:+.3f}", _interval(c),
                         _p(c.p_adjusted), _p(c.p_equivalence_adjusted), str(c.scenes), str(c.boxes), c.verdict_label,
                         "" if c.decided or c.scenes_to_decide is None else str(c.scenes_to_decide)])
    return rows


def spectrum_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """The spectrum contrasts that found objects in common, one row each, with what they rest on."""
    rows = [["method", "metric", "a", "b", "a - b", "interval (BY level)", "q (BH)", "scenes", "objects", "verdict", "rests on"]]
    for c in comparisons:
        if c.table == "spectra" and c.boxes:
            rows.append([c.scope, c.metric.replace("_auc_normalised", " AUC / full score"), c.a, c.b,
                         "" if math.isnan(c.mean_difference) else f"{c.mean_difference:+.3f}", _interval(c),
                         _p(c.p_adjusted), str(c.scenes), str(c.boxes), c.verdict, c.note])
    return rows


def families_paragraph(comparisons: Sequence[Comparison], margin: float) -> str:
    """How the comparisons were made and what the exploratory ones may be used for."""
    primary = [c for c in comparisons if c.family == "primary"]
    exploratory = [c for c in comparisons if c.family == "exploratory" and c.p is not None]
    pairs = ", ".join(dict.fromkeys(f"{c.a} vs {c.b}" for c in primary)) or "none"
    flagged = sum(1 for c in exploratory if c.p_adjusted is not None and c.p_adjusted < ALPHA)
    unit = primary[0].unit if primary else "scene"
    blanks = [c for c in comparisons if c.family == "blanks"]
    return (f"Declared before the data (the primary family): {pairs}, on deletion and insertion AUC of detections; "
            f"{len(primary)} comparisons held to {ALPHA} together by Holm's correction. Each ends better, worse, "
            f"equivalent (its interval inside ±{margin:g}, by two one-sided tests) or undecided. The margin is of "
            f"raw AUC between methods; between spectra, on the AUCs over the box's unperturbed score, it is a share of "
            f"that score ({margin:g} of a box scoring 0.5 is {margin / 2:g} of raw AUC). The unit is the "
            f"{unit}: its boxes (and a box's repeats) are averaged first; p-values are sign-flip tests of the "
            f"per-{unit} means, and each interval is that test inverted at the level Holm tested it at (simultaneous: "
            "a verdict never disagrees with its interval; comparisons.csv keeps the unadjusted 95 % one too). AUCs are "
            "compared where both maps exist; a blank map is its own outcome: "
            + (f"{len(blanks)} pairs with blank maps have their blank rates compared (family \"blanks\", exact paired "
               "test, Holm), and the reading with blank maps at the random baseline's AUC of their box is a "
               "sensitivity line (family \"sensitivity\"), not the verdict. " if blanks else "no map was blank. ")
            + f"The {len(exploratory)} other comparisons (comparisons.csv, family \"exploratory\") carry "
            f"Benjamini-Hochberg q-values and are leads, not findings ({flagged} with q < {ALPHA}).")


def comparison_records(rows: Sequence[Comparison]) -> list[dict]:
    return [{name: value for name, value in asdict(c).items() if name != "interval_at"} for c in rows]


def _scenes_needed(c: Comparison) -> str:
    """How many scenes an undecided comparison needs, each figure labelled with what it is for."""
    figures = []
    if c.difference_found is not None:
        figures.append(f"these {c.nets} nets and {c.scenes} {c.unit}s find a difference of {c.difference_found:.3f} "
                       f"with 80 % power: more nets, not only more {c.unit}s, would decide it")
    if c.scenes_to_decide:
        figures.append(f"about {c.scenes_to_decide} {c.unit}s to decide the difference observed")
    if c.scenes_for_equivalence:
        figures.append(f"about {c.scenes_for_equivalence} to show it equivalent within ±{c.margin:g} if it is that small")
    elif c.scenes_needed is not None and not math.isnan(c.mean_difference):
        figures.append(f"no number to show it equivalent: it exceeds ±{c.margin:g}")
    if c.scenes_needed:
        figures.append(f"about {c.scenes_needed} to find a difference of ±{c.margin:g}")
    return "; " + ", ".join(figures) if figures else ""


def primary_sentences(rows: Sequence[Comparison]) -> list[str]:
    """The primary family's verdicts in words: one sentence per decided comparison, then the
    undecided ones together with the scenes that would decide them; never an exploratory result."""
    primary = [c for c in rows if c.family == "primary"]
    if not primary:
        return ["No primary comparison was made: the declared pairs of methods were not both explained on any "
                "detection. The exploratory comparisons (comparisons.csv) are not findings."]
    decided = sorted((c for c in primary if c.decided), key=lambda c: (c.scope, c.metric, c.verdict, c.p_adjusted or 1))
    sentences = [c.sentence() for c in decided]
    open_ = [c for c in primary if not c.decided]
    if open_:
        parts = []
        for c in open_:
            needed = _scenes_needed(c)
            interval = (f"difference {c.mean_difference:+.3f}, {c.interval_name} interval {c.low:+.3f} to {c.high:+.3f}"
                        if c.scenes >= 2 else TOO_FEW)
            parts.append(f"{c.scope}: {c.a} vs {c.b} on {metric_label(c.metric)} ({interval}{needed})")
        sentences.append(f"Undecided, {len(open_)} of {len(primary)} primary comparisons: " + "; ".join(parts) + ".")
    unreachable = [c for c in primary if c.scenes >= 2 and not c.reachable]
    if unreachable:
        sentences.append(f"With {min(c.scenes for c in unreachable)} scenes no primary comparison can reach "
                         f"p < {ALPHA} after Holm over {unreachable[0].family_size}: explain more scenes.")
    few = [c.scenes for c in primary if 2 <= c.scenes < FEW_SCENES]
    if few:
        sentences.append(f"With {min(few)} scenes the intervals are unreliable (they invert a test that holds its "
                         f"level only if each scene's difference is as likely above the mean as below; about "
                         f"{FEW_SCENES} scenes make that matter less).")
    return sentences


def comparison_scalars(rows: Sequence[Comparison]) -> dict[str, float]:
    """``explain/compare/<a>_vs_<b>/<metric>`` (the mean over scenes of a - b) with ``_low`` and
    ``_high`` (its interval at the level Holm tested it at) for the primary comparisons with two scenes or more, and
    ``_p_holm`` only where the scenes can reach 0.05 after the correction."""
    scalars = {}
    for c in rows:
        if c.table == "methods" and c.family == "primary" and c.scenes >= 2:
            key = f"explain/compare/{c.a}_vs_{c.b}/{c.metric}"
            scalars.update({key: c.mean_difference, f"{key}_low": c.low, f"{key}_high": c.high})
            if c.reachable:
                scalars[f"{key}_p_holm"] = c.p_adjusted
    return scalars
