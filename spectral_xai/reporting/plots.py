"""The comparison as pictures: methods against each other with their 95 % intervals, spectra side by
side per method, every method's mean curve on one axis, and the sanity check as a heatmap. Drawn on
matplotlib's Agg canvas (no pyplot state), one PNG each."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..results import BoxResult
from ..explainers.baselines import REFERENCES
from ..metrics import registry
from .curves import removes

COLOURS = tuple(f"C{i}" for i in range(4, 10))


def _compared(entries: Sequence[Mapping], methods: Sequence[str]) -> list[tuple[str, str]]:
    """The primary metrics the summary entries hold, with their axis labels: ``deletion AUC (lower is better)``."""
    return [(m.name, f"{m.label} ({m.direction})") for m in registry.primary()
            if any(m.name in entry[method] for entry in entries for method in methods)]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _interval(stats: Mapping) -> tuple[float, float, float]:
    """Mean and its 95 % interval; NaN where no map was scored."""
    return stats["mean"], stats.get("low", stats["mean"]), stats.get("high", stats["mean"])


def method_dots(path: Path, title: str, entry: Mapping, methods: Sequence[str]) -> Path:
    """One summary entry (a net x spectrum x kind of target): per AUC, a dot per method with its
    bootstrap 95 % interval, methods ordered by the first primary metric (deletion AUC; best at the top)."""
    compared = _compared([entry], methods)
    first = registry.get(compared[0][0])
    scored = [m for m in methods if entry[m][first.name]["n"]]
    order = sorted(scored, key=lambda m: entry[m][first.name]["mean"], reverse=first.lower_is_better)
    fig = Figure(figsize=(4.5 * len(compared), 1.2 + 0.28 * max(len(order), 1)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(compared), sharey=True, squeeze=False)[0]
    for ax, (metric, label) in zip(axes, compared):
        for y, method in enumerate(order):
            if metric not in entry[method]:
                continue
            mean, low, high = _interval(entry[method][metric])
            colour = "tab:grey" if method in REFERENCES else "tab:blue"
            ax.errorbar([mean], [y], xerr=[[mean - low], [high - mean]], fmt="o", color=colour, capsize=3, markersize=4)
        ax.set_yticks(range(len(order)), order, fontsize=9)
        ax.set_xlabel(label, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{title}: mean and 95 % interval over boxes (grey: baselines)", fontsize=10)
    return _save(fig, path)


def spectra_panels(path: Path, table: Sequence[Mapping], methods: Sequence[str]) -> Path:
    """Per method one panel, the nets x spectra side by side: each primary metric (deletion and
    insertion AUC) with its 95 % interval (detections only)."""
    entries = [e for e in table if e["targets"] == "detection"]
    columns = min(len(methods), 4)
    rows = math.ceil(len(methods) / columns)
    fig = Figure(figsize=(3.4 * columns, 2.8 * rows))
    FigureCanvasAgg(fig)
    grid = fig.subplots(rows, columns, squeeze=False)
    names = [f"{e['model']} on {e['spectrum']}" for e in entries]
    for ax, method in zip(grid.flat, methods):
        compared = _compared(entries, methods)
        offsets = np.linspace(-0.12, 0.12, len(compared)) if len(compared) > 1 else [0.0]
        for offset, (metric, label), colour in zip(offsets, compared, ("tab:red", "tab:green", *COLOURS)):
            for x, entry in enumerate(entries):
                if metric not in entry[method]:  # a net x spectrum without values of it (no running car: no cue)
                    continue
                mean, low, high = _interval(entry[method][metric])
                if not math.isnan(mean):
                    ax.errorbar([x + offset], [mean], yerr=[[mean - low], [high - mean]], fmt="o", color=colour,
                                capsize=3, markersize=4, label=label.split(" (")[0] if x == 0 else None)
        ax.set_xticks(range(len(entries)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(method, fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(grid.flat)[len(methods):]:
        ax.set_visible(False)
    grid.flat[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Each method across nets and spectra: mean AUC and 95 % interval", fontsize=10)
    return _save(fig, path)


def overlaid_curves(path: Path, title: str, results: Sequence[BoxResult], methods: Sequence[str]) -> Path:
    """Every method's mean curve of each curve metric (deletion, insertion) on its own axis, with a
    band from the 25th to the 75th percentile over boxes."""
    drawn = registry.curves()
    fig = Figure(figsize=(5.5 * len(drawn), 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(drawn), sharey=True, squeeze=False)[0]
    colours = [f"C{i % 10}" for i in range(len(methods))]
    styles = ["-", "--", ":", "-."]
    for ax, metric in zip(axes, drawn):
        name, removed = metric.short, removes([r.curves[metric.name] for r in results if metric.name in r.curves])
        for i, method in enumerate(methods):
            curves = [r.curves[metric.name] for r in results if r.method == method and r.scored]
            if not curves:
                continue
            scores = np.stack([c.scores.numpy() for c in curves])
            fractions = curves[0].fractions.numpy()
            ax.plot(fractions, scores.mean(axis=0), color=colours[i], linestyle=styles[i // 10 % 4], linewidth=1.6,
                    label=f"{method} ({np.mean([c.auc for c in curves]):.3f})")
            low, high = np.percentile(scores, [25, 75], axis=0)
            ax.fill_between(fractions, low, high, color=colours[i], alpha=0.08)
        ax.set_title(f"{name}: mean over boxes (AUC), band 25-75 %", fontsize=9)
        ax.set_xlabel(f"share of pixels {'removed' if removed else 'inserted'}")
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7, ncol=2, loc="upper right" if removed else "lower right")
    axes[0].set_ylabel("score of the target")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def sanity_heatmap(path: Path, entries: Sequence[Mapping], stages: Sequence[str]) -> Path:
    """Methods x randomised stages (one net x spectrum's sanity.json entries), coloured by the mean
    Spearman correlation with the trained net's maps; cells where every map was blank or failed are
    grey and say so."""
    methods = list(dict.fromkeys(e["method"] for e in entries))
    by = {(e["method"], e["stage"]): e for e in entries}
    values = np.full((len(methods), len(stages)), np.nan)
    fig = Figure(figsize=(2 + 1.6 * len(stages), 0.8 + 0.32 * len(methods)))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, method in enumerate(methods):
        for j, stage in enumerate(stages):
            entry = by.get((method, stage))
            if entry is None:
                continue
            rho = entry["spearman"]["mean"]
            if entry["compared"] and not math.isnan(rho):
                values[i, j] = rho
                text = f"{rho:.2f}"
            else:
                text = "failed" if entry["failed"] else "blank"
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    cmap = colormaps["RdBu_r"].copy()
    cmap.set_bad("lightgrey")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(stages)), stages, fontsize=8, rotation=15)
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    fig.colorbar(image, ax=ax, label="Spearman with the trained net's map")
    ax.set_title("Sanity check: near 1 means the map does not depend on the weights re-initialised so far", fontsize=9)
    return _save(fig, path)
