"""Per-box rows and the paper's Table 2 (Bayer et al. 2021): model x spectrum rows, per method the
mean ± std of deletion and insertion AUC, and mean seconds per box."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..explainers.detection import Target
from ..explainers.pipeline import MethodResult

BOX_FIELDS = ["sample_id", "spectrum", "method", "x1", "y1", "x2", "y2", "class", "score",
              "insertion_auc", "deletion_auc", "seconds", "step", "error"]
BOX_COLUMNS = ["model", *BOX_FIELDS]  # explain.py; the training callback puts "epoch" first instead


def box_rows(first: object, sample_id: str, spectrum: str, target: Target, class_names: Sequence[str],
             results: Sequence[MethodResult], step: float) -> list[list]:
    """One row per method for one explained box: ``first`` (model or epoch), then ``BOX_FIELDS``."""
    box = [round(float(v), 1) for v in target.box]
    rows = []
    for r in results:
        aucs = [None, None] if r.error else [round(r.insertion.auc, 4), round(r.deletion.auc, 4)]
        rows.append([first, sample_id, spectrum, r.method, *box, class_names[target.label], round(target.score, 4),
                     *aucs, round(r.seconds, 3), step, r.error or ""])
    return rows


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def summarize(rows: Sequence[Sequence], methods: Sequence[str]) -> list[dict]:
    """Table 2: one entry per (model, spectrum) with per-method statistics over explained boxes."""
    col = {name: i for i, name in enumerate(BOX_COLUMNS)}
    groups: dict[tuple[str, str], list] = {}
    for row in rows:
        groups.setdefault((row[col["model"]], row[col["spectrum"]]), []).append(row)
    table = []
    for (model, spectrum), group in groups.items():
        entry: dict = {"model": model, "spectrum": spectrum}
        for method in methods:
            done = [r for r in group if r[col["method"]] == method and not r[col["error"]]]
            failed = sum(1 for r in group if r[col["method"]] == method and r[col["error"]])
            stats = {"boxes": len(done), "failed": failed}
            for metric in ("deletion_auc", "insertion_auc", "seconds"):
                values = np.array([r[col[metric]] for r in done], dtype=float)
                stats[metric] = {"mean": float(values.mean()) if len(values) else math.nan,
                                 "std": float(values.std()) if len(values) else math.nan}
            entry[method] = stats
        table.append(entry)
    return table


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
