"""Rows, scalars and the paper's Table 2 (Bayer et al. 2021), made from typed results: model x
spectrum rows, per method the mean ± std of deletion and insertion AUC, the localisation scores
(pointing game, energy pointing game, ODI; means over the maps where they are defined) and mean
seconds per box;
beside it the spectrum attribution table (each spectrum's share in carrying the detections)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..data_modules.layout import SPECTRA
from ..results import BoxResult, GroupKey, SanityResult
from ..analysis.resampling import bca_interval, variance_components
from ..metrics import registry
from ..analysis.pairing import box_values
from ..analysis.statistics import Inference
from .box_table import write_csv


NONE = {"mean": math.nan, "std": math.nan, "n": 0, "low": math.nan, "high": math.nan}


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    """Over the defined values (a blank map has no pointing game), with how many there were."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def _over_scenes(values: Sequence[tuple[str, float]], inference: Inference) -> dict[str, float]:
    """(scene, box value) pairs: the mean over scenes of each scene's mean, with its BCa 95 %
    interval over scenes (``low``, ``high``); the std of the box values; ``n`` boxes and ``scenes``."""
    by_scene: dict[str, list[float]] = {}
    for scene, value in values:
        by_scene.setdefault(scene, []).append(value)
    means = [float(np.mean(v)) for v in by_scene.values()]
    stats = _mean_std([value for _, value in values])
    stats["mean"] = float(np.mean(means)) if means else math.nan
    stats["scenes"] = len(means)
    stats["low"], stats["high"] = bca_interval(means, inference.resamples, inference.seed)
    return stats


def method_statistics(results: Sequence[BoxResult], method: str, inference: Inference = Inference()) -> dict:
    """For one method: boxes explained, failed and blank (and the blank rate); per AUC the mean over
    scenes (each scene's boxes averaged first, a box's repeats too) with its BCa 95 % interval over
    scenes, over the maps that are not blank, and again with every blank map counted at the
    ``random`` baseline's AUC of the same box (``<metric>_blank_as_random``); the localisation
    scores and the other reported metrics (:func:`_beside`) and seconds (mean ± std over maps); and with ``repeats``, its reliability: the mean
    seed-to-seed correlation of its maps and the intraclass correlation of each AUC over repeats."""
    mine = [r for r in results if r.method == method]
    done = [r for r in mine if r.scored]
    repeated = [r for r in done if len(r.repeat_scores) > 1]
    boxes = sum(1 for r in mine if r.ok)
    blank = sum(1 for r in mine if r.blank)
    stats = {"boxes": boxes, "failed": len(mine) - boxes, "blank": blank, "blank_rate": blank / boxes if boxes else math.nan}
    for metric in (m.name for m in registry.held(results, registry.primary())):
        values = {key: v for key, v in box_values(results, metric).items() if key[3] == method}
        # A map without a value (a box with no measurable known cause) is left out of this metric alone.
        scored = [key for r in done if (key := (r.sample_id, r.spectrum, r.box, method)) in values]
        stats[metric] = _over_scenes([(key[0], float(values[key].mean())) for key in scored], inference)
        as_random = {key: v for key, v in box_values(results, metric, True).items() if key[3] == method}
        stats[f"{metric}_blank_as_random"] = _over_scenes([(key[0], float(v.mean())) for key, v in as_random.items()],
                                                          inference)
        again = [key for r in repeated if (key := (r.sample_id, r.spectrum, r.box, method)) in values]
        stats[f"{metric}_icc"] = (variance_components([v for key in again for v in values[key]],
                                                      [key[:3] for key in again for _ in values[key]]).icc
                                  if len(again) > 1 else math.nan)
    return {**stats, **{m.name: _mean_std([r.value(m.name) for r in done]) for m in registry.held(results, _beside())},
            "seconds": _mean_std([r.seconds for r in mine if r.ok]),
            "seed_correlation": _mean_std([r.seed_correlation for r in repeated]),
            "masks": _mean_std([float(r.info.masks) for r in mine if r.ok and r.info.masks is not None]),
            "map_reliability": _mean_std([r.info.reliability for r in done])}


#: How scalar keys name the targets of each kind: ``explain/<method>/...`` for detections,
#: ``explain/missed/<method>/...`` and ``explain/false_positives/<method>/...`` for the others.
KIND_KEYS = {"detection": "explain", "missed": "explain/missed", "false_positive": "explain/false_positives"}


def method_scalars(results: Sequence[BoxResult], methods: Sequence[str]) -> dict[str, float]:
    """``explain/<method>/{insertion_auc, deletion_auc, pointing_game, energy_pointing_game, odi,
    seconds_per_box}`` and, for RISE and D-RISE, ``masks`` and ``map_reliability``: means over the maps a method made that are not blank (a localisation score
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
        scalars.update({f"explain/{method}/{m.name}": stats[m.name]["mean"] for m in registry.primary()
                        if m.name in stats and stats[m.name]["n"]})
        scalars.update({f"explain/{method}/{m.name}": stats[m.name]["mean"] for m in _beside()
                        if m.name in stats and not math.isnan(stats[m.name]["mean"])})
        if stats["masks"]["n"]:
            scalars[f"explain/{method}/masks"] = stats["masks"]["mean"]
        if stats["map_reliability"]["n"]:
            scalars[f"explain/{method}/map_reliability"] = stats["map_reliability"]["mean"]
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


def result_scalars(results: Sequence[BoxResult], methods: Sequence[str]) -> dict[str, float]:
    """Every scalar a run logs of its results: :func:`method_scalars` and :func:`spectrum_scalars`."""
    return {**method_scalars(results, methods), **spectrum_scalars(results)}


def summarize(groups: Mapping[GroupKey, Sequence[BoxResult]], methods: Sequence[str],
              inference: Inference = Inference()) -> list[dict]:
    """Table 2: one entry per (model, spectrum, kind of target) with per-method statistics over
    explained boxes and the spectrum attribution of those boxes."""
    return [{"model": model, "spectrum": spectrum, "targets": kind,
             **{m: method_statistics(results, m, inference) for m in methods},
             "target_score": _mean_std([r.target.score for r in _per_box(results)]),
             "attribution": attribution_statistics(results)}
            for (model, spectrum, kind), results in groups.items()]


def _beside() -> list[registry.Metric]:
    """The metrics reported beside the compared ones, as a mean over the maps where each is defined."""
    return [m for m in registry.reported() if not m.primary]


def shown(table: Sequence[Mapping], methods: Sequence[str]) -> list[registry.Metric]:
    """The reported metrics the summary entries hold (:func:`method_statistics` leaves out a metric
    its results do not hold)."""
    return [m for m in registry.reported() if any(m.name in entry[method] for entry in table for method in methods)]


def method_columns(metrics: Sequence[registry.Metric]) -> list[str]:
    """Per method, its columns in summary.csv and the report's tables, for ``metrics`` (:func:`shown`)."""
    compared, beside = [m for m in metrics if m.primary], [m for m in metrics if not m.primary]
    return [*(column for m in compared for column in (m.short, f"{m.short} 95% CI")),
            *(f"{m.short}, blank = random" for m in compared), *(m.short for m in beside), "s/box", "boxes",
            "blank rate", "seed r", *(f"{m.short} ICC" for m in compared), "masks", "map reliability"]


def _method_cells(s: Mapping, metrics: Sequence[registry.Metric]) -> list[str]:
    def number(value: float) -> str:
        return "" if math.isnan(value) else f"{value:.3f}"

    def stats(name: str) -> Mapping:  # a metric another entry holds and this one does not
        return s.get(name, NONE)

    compared = [m.name for m in metrics if m.primary]
    return [*(cell for metric in compared for cell in _mean_and_interval(stats(metric))),
            *(f"{stats(f'{metric}_blank_as_random')['mean']:.3f}" for metric in compared),
            *(f"{stats(m.name)['mean']:.3f} (n={stats(m.name)['n']})" for m in metrics if not m.primary),
            f"{s['seconds']['mean']:.2f}", str(s["boxes"]), number(s["blank_rate"]), number(s["seed_correlation"]["mean"]),
            *(number(s.get(f"{metric}_icc", math.nan)) for metric in compared), f"{s['masks']['mean']:.0f}" if s["masks"]["n"] else "",
            number(s["map_reliability"]["mean"])]


def write_summary(folder: Path, table: list[dict], methods: Sequence[str], step: float, boxes: str) -> list[list[str]]:
    """summary.json (full numbers) and summary.csv (formatted as in the paper); returns the CSV rows.
    ``boxes`` names which boxes of each image were explained (``top`` is the paper's protocol)."""
    (folder / "summary.json").write_text(json.dumps({"step": step, "boxes": boxes, "rows": table}, indent=2))
    metrics = shown(table, methods)
    header = ["model", "spectrum", "targets", "boxes per image",
              *(f"{m} {column}" for m in methods for column in method_columns(metrics))]
    lines = [[entry["model"], entry["spectrum"], entry["targets"], boxes,
              *(cell for m in methods for cell in _method_cells(entry[m], metrics))]
             for entry in table]
    write_csv(folder / "summary.csv", header, lines)
    return [header, *lines]


def method_rows(entry: Mapping, methods: Sequence[str]) -> list[list[str]]:
    """One summary entry as a table with methods as rows and metrics as columns."""
    metrics = shown([entry], methods)
    return [["method", *method_columns(metrics)], *([m, *_method_cells(entry[m], metrics)] for m in methods)]


def judged_rows(entry: Mapping, methods: Sequence[str], judges: str) -> list[list[str]]:
    """One summary entry's metrics that judge maps by ``judges`` (``known_causes``): methods as rows,
    each compared metric's mean with its interval, each other one's mean."""
    metrics = [m for m in shown([entry], methods) if m.judges == judges]
    header = ["method", *(column for m in metrics for column in ((m.short, f"{m.short} 95% CI") if m.primary else (m.short,)))]
    rows = []
    for method in methods:
        cells = []
        for m in metrics:
            stats = entry[method].get(m.name, NONE)
            cells += _mean_and_interval(stats) if m.primary else [f"{stats['mean']:.3f} (n={stats['n']})"]
        rows.append([method, *cells])
    return [header, *rows]


def _mean_and_interval(stats: Mapping) -> list[str]:
    """``mean ± std (n=N)`` and ``[low, high]`` (NaN-free where there was one scene: ``-``)."""
    interval = "-" if math.isnan(stats["low"]) else f"[{stats['low']:.3f}, {stats['high']:.3f}]"
    return [f"{stats['mean']:.3f} ± {stats['std']:.3f} (n={stats['n']})", interval]


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
