"""Rows, scalars and the paper's Table 2 (Bayer et al. 2021), made from typed results: model x
spectrum rows, per method the mean ± std of deletion and insertion AUC, and mean seconds per box."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..evaluation import BoxResult

BOX_FIELDS = ["sample_id", "spectrum", "method", "x1", "y1", "x2", "y2", "class", "score",
              "insertion_auc", "deletion_auc", "seconds", "step", "error"]


def box_row(result: BoxResult, class_names: Sequence[str]) -> list:
    """``BOX_FIELDS`` of one (box, method) result."""
    target = result.target
    box = [round(float(v), 1) for v in target.box]
    aucs = [round(result.insertion.auc, 4), round(result.deletion.auc, 4)] if result.ok else [None, None]
    return [result.sample_id, result.spectrum, result.method, *box, class_names[target.label], round(target.score, 4),
            *aucs, round(result.seconds, 3), result.step, result.error or ""]


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": math.nan, "std": math.nan}
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def method_statistics(results: Sequence[BoxResult], method: str) -> dict:
    """Boxes explained and failed, and mean ± std of both AUCs and of seconds, for one method."""
    done = [r for r in results if r.method == method and r.ok]
    return {"boxes": len(done), "failed": sum(1 for r in results if r.method == method and not r.ok),
            "deletion_auc": _mean_std([r.deletion.auc for r in done]),
            "insertion_auc": _mean_std([r.insertion.auc for r in done]),
            "seconds": _mean_std([r.seconds for r in done])}


def method_scalars(results: Sequence[BoxResult], methods: Sequence[str]) -> dict[str, float]:
    """``explain/<method>/{insertion_auc, deletion_auc, seconds_per_box}``: means over the boxes a
    method explained; a method that explained none logs nothing rather than NaN."""
    scalars = {}
    for method in methods:
        stats = method_statistics(results, method)
        if stats["boxes"]:
            scalars[f"explain/{method}/insertion_auc"] = stats["insertion_auc"]["mean"]
            scalars[f"explain/{method}/deletion_auc"] = stats["deletion_auc"]["mean"]
            scalars[f"explain/{method}/seconds_per_box"] = stats["seconds"]["mean"]
    return scalars


def summarize(groups: Mapping[tuple[str, str], Sequence[BoxResult]], methods: Sequence[str]) -> list[dict]:
    """Table 2: one entry per (model, spectrum) with per-method statistics over explained boxes."""
    return [{"model": model, "spectrum": spectrum, **{m: method_statistics(results, m) for m in methods}}
            for (model, spectrum), results in groups.items()]


def write_summary(folder: Path, table: list[dict], methods: Sequence[str], step: float) -> list[list[str]]:
    """summary.json (full numbers) and summary.csv (formatted as in the paper); returns the CSV rows."""
    (folder / "summary.json").write_text(json.dumps({"step": step, "rows": table}, indent=2))
    header = ["model", "spectrum"]
    for method in methods:
        header += [f"{method} deletion", f"{method} insertion", f"{method} s/box", f"{method} boxes"]
    lines = []
    for entry in table:
        line = [entry["model"], entry["spectrum"]]
        for method in methods:
            s = entry[method]
            line += [f"{s['deletion_auc']['mean']:.3f} ± {s['deletion_auc']['std']:.3f}",
                     f"{s['insertion_auc']['mean']:.3f} ± {s['insertion_auc']['std']:.3f}",
                     f"{s['seconds']['mean']:.2f}", str(s["boxes"])]
        lines.append(line)
    write_csv(folder / "summary.csv", header, lines)
    return [header, *lines]
