"""Rows, scalars and the paper's Table 2 (Bayer et al. 2021), made from typed results: model x
spectrum rows, per method the mean ± std of deletion and insertion AUC, the localisation scores
(pointing game, energy pointing game, ODI; means over the maps where they are defined) and mean
seconds per box;
beside it the spectrum attribution table (each spectrum's share in carrying the detections)."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..data_modules.layout import SPECTRA
from ..evaluation import BoxResult
from ..sanity import SanityResult
from ..statistics import ALPHA, MIN_PAIRS, Comparison, bootstrap_interval, comparison_records, method_noise

LOCALISATION = ("pointing_game", "energy_pointing_game", "odi")
BOX_FIELDS = ["sample_id", "spectrum", "box", "kind", "method", "x1", "y1", "x2", "y2", "class", "score",
              "insertion_auc", "deletion_auc", *LOCALISATION, "judged_against", "seconds", "step", "error"]


def input_spectra(results: Sequence[BoxResult]) -> list[str]:
    """The spectra the results' inputs held (``rgb+mir`` holds both), in the dataset's order."""
    held = {name for r in results for name in r.spectrum.split("+")}
    return [s for s in SPECTRA if s in held]


def box_fields(spectra: Sequence[str]) -> list[str]:
    """:data:`BOX_FIELDS` and, per spectrum of the input, the box's score without it and with it alone."""
    return [*BOX_FIELDS, *(f"score_{kind}_{spectrum}" for spectrum in spectra for kind in ("without", "alone"))]


def box_row(result: BoxResult, class_names: Sequence[str], spectra: Sequence[str]) -> list:
    """``box_fields(spectra)`` of one (box, method) result; ``box`` is the box's rank among its
    image's explained boxes (0: the best detection), ``kind`` what it is (detection, missed,
    false_positive)."""
    target = result.target
    box = [round(float(v), 1) for v in target.box]
    aucs = [round(result.insertion.auc, 4), round(result.deletion.auc, 4)] if result.ok else [None, None]
    found = result.localisation
    located = [*(_rounded(getattr(found, name)) for name in LOCALISATION), found.against] if found else [None] * 4
    attribution = []
    for spectrum in spectra:
        score = result.spectrum_scores.get(spectrum)
        attribution += [round(score.without, 4), round(score.alone, 4)] if score else [None, None]
    return [result.sample_id, result.spectrum, result.box, target.kind, result.method, *box, class_names[target.label], round(target.score, 4),
            *aucs, *located, round(result.seconds, 3), result.step, result.error or "", *attribution]


def _rounded(value: float) -> float | None:
    """A score for a table: NaN (undefined for this map) becomes an empty cell."""
    return None if math.isnan(value) else round(value, 4)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    """Over the defined values (a blank map has no pointing game), with how many there were."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def _with_interval(values: Sequence[float], resamples: int, seed: int) -> dict[str, float]:
    """Mean ± std with the mean's bootstrap 95 % interval (``low``, ``high``)."""
    stats = _mean_std(values)
    stats["low"], stats["high"] = bootstrap_interval(values, resamples, seed) if stats["n"] > 1 else (stats["mean"],) * 2
    return stats


def method_statistics(results: Sequence[BoxResult], method: str, resamples: int = 2000, seed: int = 0) -> dict:
    """For one method: boxes explained, failed and blank; mean ± std (with ``n``, the maps behind it)
    of both AUCs (with their bootstrap 95 % interval), of the localisation scores and of seconds,
    over the maps that are not blank; and with ``repeats``, its own noise: the mean seed-to-seed
    correlation of its maps and the mean spread (std over seeds) of each AUC."""
    mine = [r for r in results if r.method == method]
    done = [r for r in mine if r.scored]
    repeated = [r for r in done if len(r.repeat_aucs) > 1]
    return {"boxes": sum(1 for r in mine if r.ok), "failed": sum(1 for r in mine if not r.ok),
            "blank": sum(1 for r in mine if r.blank),
            "deletion_auc": _with_interval([r.deletion.auc for r in done], resamples, seed),
            "insertion_auc": _with_interval([r.insertion.auc for r in done], resamples, seed),
            **{name: _mean_std([getattr(r.localisation, name) for r in done]) for name in LOCALISATION},
            "seconds": _mean_std([r.seconds for r in mine if r.ok]),
            "seed_correlation": _mean_std([r.seed_correlation for r in repeated]),
            "deletion_auc_noise": method_noise(results, method, "deletion_auc") if repeated else math.nan,
            "insertion_auc_noise": method_noise(results, method, "insertion_auc") if repeated else math.nan}


#: How scalar keys name the targets of each kind: ``explain/<method>/...`` for detections,
#: ``explain/missed/<method>/...`` and ``explain/false_positives/<method>/...`` for the others.
KIND_KEYS = {"detection": "explain", "missed": "explain/missed", "false_positive": "explain/false_positives"}


def method_scalars(results: Sequence[BoxResult], methods: Sequence[str]) -> dict[str, float]:
    """``explain/<method>/{insertion_auc, deletion_auc, pointing_game, energy_pointing_game, odi,
    seconds_per_box}``: means over the maps a method made that are not blank (a localisation score
    over the maps where it is defined); a method with none logs none of them rather than NaN, nor
    is a score undefined for every map logged; ``explain/<method>/blank``: how many maps were blank.
    Missed objects and false positives are kept apart, under the prefixes of :data:`KIND_KEYS`."""
    scalars = {}
    for kind in dict.fromkeys(r.target.kind for r in results):
        mine = [r for r in results if r.target.kind == kind]
        scalars.update({key.replace("explain", KIND_KEYS[kind], 1): value
                        for key, value in _method_scalars(mine, methods).items()})
    return scalars


def _method_scalars(results: Sequence[BoxResult], methods: Sequence[str]) -> dict[str, float]:
    scalars = {}
    for method in methods:
        stats = method_statistics(results, method)
        if stats["boxes"]:
            scalars[f"explain/{method}/blank"] = stats["blank"]
            scalars[f"explain/{method}/seconds_per_box"] = stats["seconds"]["mean"]
        if stats["deletion_auc"]["n"]:
            scalars[f"explain/{method}/insertion_auc"] = stats["insertion_auc"]["mean"]
            scalars[f"explain/{method}/deletion_auc"] = stats["deletion_auc"]["mean"]
            scalars.update({f"explain/{method}/{name}": stats[name]["mean"] for name in LOCALISATION
                            if not math.isnan(stats[name]["mean"])})
    return scalars


def _per_box(results: Sequence[BoxResult]) -> list[BoxResult]:
    """One result per explained box (the attribution is the box's, repeated in each method's result)."""
    return list({(r.sample_id, r.spectrum, r.box): r for r in results}.values())


def attribution_statistics(results: Sequence[BoxResult]) -> dict[str, dict]:
    """Per input spectrum: mean ± std over boxes of the score without it and with it alone."""
    boxes = _per_box(results)
    spectra = [s for s in SPECTRA if any(s in r.spectrum_scores for r in boxes)]
    return {s: {"without": _mean_std([r.spectrum_scores[s].without for r in boxes if s in r.spectrum_scores]),
                "alone": _mean_std([r.spectrum_scores[s].alone for r in boxes if s in r.spectrum_scores])}
            for s in spectra}


def spectrum_scalars(results: Sequence[BoxResult]) -> dict[str, float]:
    """``explain/spectrum/<name>/{score_without, score_alone}``: means over the explained detections."""
    detections = [r for r in results if r.target.kind == "detection"]
    return {f"explain/spectrum/{spectrum}/score_{kind}": stats[kind]["mean"]
            for spectrum, stats in attribution_statistics(detections).items() for kind in ("without", "alone")}


GroupKey = tuple[str, str, str]  # (model, spectrum, kind of target): every table keeps the kinds apart


def group_results(results: Sequence[BoxResult], model: str, groups: dict[GroupKey, list[BoxResult]]) -> None:
    """Add ``results`` of ``model`` to ``groups``, one group per (model, spectrum, kind of target)."""
    for result in results:
        groups.setdefault((model, result.spectrum, result.target.kind), []).append(result)


def summarize(groups: Mapping[GroupKey, Sequence[BoxResult]], methods: Sequence[str],
              resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Table 2: one entry per (model, spectrum, kind of target) with per-method statistics over
    explained boxes and the spectrum attribution of those boxes."""
    return [{"model": model, "spectrum": spectrum, "targets": kind,
             **{m: method_statistics(results, m, resamples, seed) for m in methods},
             "target_score": _mean_std([r.target.score for r in _per_box(results)]),
             "attribution": attribution_statistics(results)}
            for (model, spectrum, kind), results in groups.items()]


def write_summary(folder: Path, table: list[dict], methods: Sequence[str], step: float, boxes: str) -> list[list[str]]:
    """summary.json (full numbers) and summary.csv (formatted as in the paper); returns the CSV rows.
    ``boxes`` names which boxes of each image were explained (``top`` is the paper's protocol)."""
    (folder / "summary.json").write_text(json.dumps({"step": step, "boxes": boxes, "rows": table}, indent=2))
    header = ["model", "spectrum", "targets", "boxes per image"]
    for method in methods:
        header += [f"{method} deletion", f"{method} deletion 95% CI", f"{method} insertion", f"{method} insertion 95% CI",
                   f"{method} pointing", f"{method} energy PG", f"{method} ODI", f"{method} s/box",
                   f"{method} boxes", f"{method} blank", f"{method} seed r"]
    lines = []
    for entry in table:
        line = [entry["model"], entry["spectrum"], entry["targets"], boxes]
        for method in methods:
            s = entry[method]
            line += [*_mean_and_interval(s["deletion_auc"]), *_mean_and_interval(s["insertion_auc"]),
                     *(f"{s[name]['mean']:.3f} (n={s[name]['n']})" for name in LOCALISATION),
                     f"{s['seconds']['mean']:.2f}", str(s["boxes"]), str(s["blank"]),
                     "" if math.isnan(s["seed_correlation"]["mean"]) else f"{s['seed_correlation']['mean']:.3f}"]
        lines.append(line)
    write_csv(folder / "summary.csv", header, lines)
    return [header, *lines]


def method_rows(entry: Mapping, methods: Sequence[str]) -> list[list[str]]:
    """One summary entry as a table with methods as rows and metrics as columns."""
    rows = [["method", "deletion", "deletion 95% CI", "insertion", "insertion 95% CI", "pointing", "energy PG", "ODI",
             "s/box", "boxes", "blank", "seed r"]]
    for method in methods:
        s = entry[method]
        rows.append([method, *_mean_and_interval(s["deletion_auc"]), *_mean_and_interval(s["insertion_auc"]),
                     *(f"{s[name]['mean']:.3f} (n={s[name]['n']})" for name in LOCALISATION),
                     f"{s['seconds']['mean']:.2f}", str(s["boxes"]), str(s["blank"]),
                     "" if math.isnan(s["seed_correlation"]["mean"]) else f"{s['seed_correlation']['mean']:.3f}"])
    return rows


def _mean_and_interval(stats: Mapping) -> list[str]:
    """``mean ± std (n=N)`` and ``[low, high]``."""
    return [f"{stats['mean']:.3f} ± {stats['std']:.3f} (n={stats['n']})", f"[{stats['low']:.3f}, {stats['high']:.3f}]"]


COMPARISON_FIELDS = ["table", "scope", "metric", "a", "b", "n", "mean_difference", "low", "high", "p", "p_holm",
                     "noise", "verdict"]


def write_comparisons(folder: Path, comparisons: Sequence[Comparison]) -> None:
    """comparisons.csv and comparisons.json: every paired comparison, its interval, p-values and verdict."""
    records = comparison_records(comparisons)
    (folder / "comparisons.json").write_text(json.dumps({"alpha": ALPHA, "min_pairs": MIN_PAIRS, "rows": records}, indent=2))
    write_csv(folder / "comparisons.csv", COMPARISON_FIELDS,
              [[_cell(record[name]) for name in COMPARISON_FIELDS] for record in records])


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 4) if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"
    return "" if value is None else value


def write_attribution(folder: Path, table: list[dict]) -> list[list[str]]:
    """attribution.csv: per (model, evaluated spectrum, input spectrum) the boxes' mean score, and
    the mean ± std of their score without that spectrum and with it alone; returns the rows."""
    header = ["model", "spectrum", "targets", "input spectrum", "score", "score without", "score alone"]
    lines = []
    for entry in table:
        score = entry["target_score"]
        for spectrum, stats in entry["attribution"].items():
            lines.append([entry["model"], entry["spectrum"], entry["targets"], spectrum, f"{score['mean']:.3f}",
                          f"{stats['without']['mean']:.3f} ± {stats['without']['std']:.3f}",
                          f"{stats['alone']['mean']:.3f} ± {stats['alone']['std']:.3f}"])
    write_csv(folder / "attribution.csv", header, lines)
    return [header, *lines]


def write_sanity(folder: Path, groups: Mapping[tuple[str, str], Sequence[SanityResult]], stages: Sequence[str]
                 ) -> tuple[list[list[str]], list[dict]]:
    """sanity.csv: per (model, spectrum, method, randomised stage), with the scoring rule both maps
    were made under (perturbation methods: ``anchor``), the mean ± std over boxes of the
    Spearman correlation between the trained and the randomised net's map, over all pixels and over
    the pixels where either map is non-zero, and how many maps were compared, blank (correlation
    undefined) or failed; sanity.json the same in full; returns the rows and the entries."""
    header = ["model", "spectrum", "method", "rule", "stage", "spearman", "spearman in support", "compared", "blank", "failed"]
    lines, entries = [], []
    for (model, spectrum), results in groups.items():
        for method in dict.fromkeys(r.method for r in results):
            for stage in stages:
                chosen = [r for r in results if r.method == method and r.stage == stage]
                done = [r for r in chosen if not r.error]
                failed = len(chosen) - len(done)
                everywhere = _mean_std([r.spearman for r in done])
                support = _mean_std([r.spearman_support for r in done])
                compared = sum(1 for r in done if not math.isnan(r.spearman))
                rule = next((r.rule for r in chosen), "")
                entries.append({"model": model, "spectrum": spectrum, "method": method, "rule": rule, "stage": stage,
                                "spearman": everywhere, "spearman_support": support, "compared": compared,
                                "blank": len(done) - compared, "failed": failed})
                lines.append([model, spectrum, method, rule, stage, *(f"{v['mean']:.3f} ± {v['std']:.3f}" for v in (everywhere, support)),
                              str(compared), str(len(done) - compared), str(failed)])
    (folder / "sanity.json").write_text(json.dumps({"stages": list(stages), "rows": entries}, indent=2))
    write_csv(folder / "sanity.csv", header, lines)
    return [header, *lines], entries
