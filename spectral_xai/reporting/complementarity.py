"""complementarity.csv and .json, and the report's tables of what each spectrum sees that the others
miss (:mod:`~spectral_xai.analysis.complementarity` counts them)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..analysis.complementarity import ObjectRecord, class_counts, pair_counts
from .box_table import write_csv


def write_complementarity(folder: Path, records: Sequence[ObjectRecord], names: Sequence[str],
                          class_names: Sequence[str]) -> tuple[list[list[str]], list[list[str]]]:
    """complementarity.csv (one row per object: object, class, scene, condition and its source,
    then per net x spectrum whether it found the object and its matched score, empty where it did
    not see the scene) and complementarity.json (the same, with the counts); returns the two
    report tables: per class and condition, how many objects each net x spectrum alone finds,
    how many several find and how many none finds; per ordered pair, how many objects the one
    finds that the other misses."""
    header = ["object", "class", "scene", "condition", "condition source"]
    for name in names:
        header += [f"{name} found", f"{name} score"]
    lines = []
    for r in records:
        line = [f"{r.scene}/{r.index}", class_names[r.label], r.scene, r.condition.name, r.condition.source]
        for name in names:
            outcome = r.outcomes.get(name)
            line += [int(outcome.found), round(outcome.score, 4)] if outcome else ["", ""]
        lines.append(line)
    write_csv(folder / "complementarity.csv", header, lines)
    counts, pairs = class_counts(records, names, class_names), pair_counts(records, names)
    (folder / "complementarity.json").write_text(json.dumps(
        {"nets": list(names), "objects": [dict(zip(header, line)) for line in lines], "by_class": counts,
         "pairs": pairs}, indent=2))
    by_class = [["class", "condition", "condition source", "objects", *(f"{n} alone" for n in names), "several", "none"]]
    by_class += [[c["class"], c["condition"], c["source"], str(c["objects"]), *(str(c["alone"][n]) for n in names),
                  str(c["several"]), str(c["none"])] for c in counts]
    by_pair = [["finds", "misses", "condition", "condition source", "objects both saw", "found by the first, missed by the second"]]
    by_pair += [[p["finds"], p["misses"], p["condition"], p["source"], str(p["objects"]), str(p["count"])] for p in pairs]
    return by_class, by_pair
