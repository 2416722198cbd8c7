"""The reproduction's tables (``benchmarks/results/reproduction.json``): Table 2, what the
comparisons support, the spectrum contrasts over training seeds, the metrics' reliability and the
randomisation test."""
from __future__ import annotations

import collections
import math
import statistics

from result_tables import load, source, spread, table


def _mean(cell: dict | None, key: str) -> str:
    return "-" if not cell or cell.get(key) is None else f"{cell[key]:.3f}"


def table2() -> str:
    record = load("reproduction")
    table2 = record["figures"]["table2"]
    methods = [k for k, v in table2[0].items() if isinstance(v, dict)]
    rows = []
    for entry in table2:
        rows.append([f"{entry['model']} on {entry['spectrum']}", "-" if entry["val_map_50"] is None else f"{entry['val_map_50']:.2f}",
                     *(f"{_mean(entry[m], 'deletion_auc')} / {_mean(entry[m], 'insertion_auc')}"
                       + (f" ({entry[m]['blank']} blank)" if entry[m].get("blank") else "") for m in methods)])
    seconds = ", ".join(f"{m} {sum(e[m]['seconds_per_box'] for e in table2) / len(table2):.2f} s" for m in methods)
    return table(["net on spectrum", "final val/map_50", *(f"{m} deletion / insertion" for m in methods)], rows) + \
        f"\n\nMean seconds per box: {seconds}; boxes per row: {table2[0][methods[0]]['boxes']}.\n\n" + source(record)


def sanity_every_net() -> str:
    record = load("reproduction")
    figures = record["figures"].get("sanity_every_net")
    if figures is None:
        return "Not in this result file (its reproduction ran no randomisation test); regenerate it.\n\n" + source(record)
    stages = figures["stages"]
    rows = []
    for method, cells in figures["methods"].items():
        values = {stage: [v for v in cells[stage]["spearman"] if v is not None] for stage in stages}
        rows.append([method, *(f"{statistics.median(values[s]):.2f} ({min(values[s]):.2f} to {max(values[s]):.2f})"
                               if values[s] else "blank" for s in stages),
                     str(sum(cells[s]["blank"] for s in stages)), str(sum(cells[s]["compared"] for s in stages))])
    nets = next(iter(figures["methods"].values()))[stages[0]]["nets"]
    return (table(["method", *(f"{s}: median (min to max)" for s in stages), "blank maps", "maps compared"], rows)
            + f"\n\nSpearman correlation of the trained and the randomised net's map, over {nets} nets x spectra "
            "(the boxes of each one's first scene); near 1: the map did not notice that the weights changed.\n\n"
            + source(record))


def spectrum_verdicts() -> str:
    record = load("reproduction")
    contrasts = record["figures"].get("spectrum_contrasts") or []
    pairs: dict[tuple[str, str], list[dict]] = {}
    for row in contrasts:
        pairs.setdefault((row["a"], row["b"]), []).append(row)
    metrics = list(dict.fromkeys(row["metric"] for row in contrasts))
    rows = []
    for (a, b), found in pairs.items():
        counts = [", ".join(f"{n} {verdict}" for verdict, n in
                            collections.Counter(r["verdict"] for r in found if r["metric"] == metric).most_common())
                  for metric in metrics]
        rows.append([f"{a} vs {b}", str(max(r["scenes"] for r in found)), str(max(r["boxes"] for r in found)), *counts])
    methods = len({row["scope"] for row in contrasts})
    notes = sorted({part for row in contrasts for part in (row["note"] or "").split("; ") if part.startswith("fewer than")})
    return (table(["a vs b", "scenes", "objects", *(f"{_auc_name(m)}: verdicts of the {methods} methods (a against b)"
                                                   for m in metrics)], rows)
            + "".join(f"\n\nEvery row: {note}." for note in notes) + "\n\n" + source(record))


def spectrum_contrasts() -> str:
    record = load("reproduction")
    rows = []
    for c in record["figures"].get("spectrum_contrasts") or []:
        difference = "" if c["mean_difference"] != c["mean_difference"] else f"{c['mean_difference']:+.3f}"
        interval = "" if c["low"] != c["low"] else f"[{c['low']:+.3f}, {c['high']:+.3f}]"
        rows.append([f"{c['a']} vs {c['b']}", c["scope"], _auc_name(c["metric"]), difference, interval,
                     "" if c["p_adjusted"] is None or c["p_adjusted"] != c["p_adjusted"] else f"{c['p_adjusted']:.3g}",
                     str(c["scenes"]), str(c["boxes"]), c["verdict"], (c["note"] or "").split("; ")[0]])
    return table(["a vs b", "method", "AUC", "a - b", "interval (BY level)", "q (BH)", "scenes", "objects", "verdict", "rests on"],
                 rows) + "\n\n" + source(record)


def _auc_name(metric: str) -> str:
    return metric.replace("_auc_normalised", " AUC / full score").replace("_auc", " AUC")


def metric_reliability() -> str:
    record = load("reproduction")
    found: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for row in record["figures"].get("metric_reliability") or []:
        value = float(row["value"]) if row["value"] not in ("", "nan") else math.nan
        found.setdefault((row["measure"], row["metric"]), []).append((value, int(row["n"])))
    rows = []
    for (measure, metric), values in found.items():
        defined = [v for v, _ in values if not math.isnan(v)]
        rows.append([measure, metric.replace("_", " "), spread({"min": min(defined), "median": statistics.median(defined),
                                                                 "max": max(defined)}) if defined else "undefined",
                     f"{len(defined)} of {len(values)}", str(round(statistics.median(n for _, n in values)))])
    measures = {measure for measure, _ in found}
    notes = ["Alpha: Krippendorff's, each scene ranking the explainers by the metric (the baselines apart; the rows "
             "'baselines ranked too' rank them as well); 1 when every scene ranks them alike, about 0 when the rankings "
             "are as good as random; n the scenes."
             if "alpha across scenes, baselines ranked too" in measures else
             "Alpha: Krippendorff's, each scene ranking the methods and baselines together by the metric; 1 when every "
             "scene ranks them alike, about 0 when the rankings are as good as random; n the scenes."]
    if "spearman within boxes" in measures:
        notes.append("Spearman: within each box, over its maps, averaged over boxes and then scenes; n the boxes.")
    if "spearman over maps" in measures:
        notes.append("Spearman: pooled over every scored map (boxes mixed); n the maps.")
    return (table(["measure", "metric", "min / median / max over nets x spectra", "defined on", "median n"], rows)
            + "\n\n" + " ".join(notes) + "\n\n" + source(record))


def sanity() -> str:
    record = load("reproduction")
    figures = record["figures"]["sanity"]
    stages = figures["stages"]
    rows = []
    for method, cells in figures["methods"].items():
        rows.append([method, cells[stages[0]].get("rule", "matched"), *("blank" if cells[s]["spearman"] is None else
                               f"{cells[s]['spearman']:.2f} / {'-' if cells[s]['spearman_support'] is None else format(cells[s]['spearman_support'], '.2f')}"
                               + (f" ({cells[s]['blank']} blank)" if cells[s]["blank"] else "") for s in stages)])
    return table(["method", "scored by", *stages], rows) + "\n\n" + source(record)


def every_method() -> str:
    record = load("reproduction")
    figures = record["figures"]["every_method_mir"]
    keys = ("deletion_auc", "insertion_auc", "pointing_game", "energy_pointing_game", "odi", "seconds")
    rows = [[method, *(_mean(f, key) for key in keys), str(f["boxes"]), str(f.get("blank", "-"))] for method, f in figures.items()]
    return table(["method", "deletion", "insertion", "pointing game", "energy pointing game", "ODI", "s per box", "boxes", "blank"],
                 rows) + "\n\n" + source(record)


def supported() -> str:
    record = load("reproduction")
    primary = record["figures"].get("primary")
    if primary is None:
        return "Not in this result file (it predates the primary family); regenerate it.\n\n" + source(record)
    sentences = "\n".join(f"- {sentence}" for sentence in record["figures"]["supported"])
    verdicts = ", ".join(f"{count} {verdict}" for verdict, count in primary.items() if count)
    exploratory = record["figures"]["exploratory"]
    return (f"{sentences}\n\nPrimary family: {sum(primary.values())} comparisons ({verdicts}). Exploratory: "
            f"{exploratory['tested']} comparisons, {exploratory['q_below_alpha']} with a Benjamini-Hochberg q below 0.05 "
            "(leads, not findings).\n\n" + source(record))


def demo_spreads() -> str:
    """The design check from the demo's spreads, and the seeded contrasts and method verdicts they came from."""
    record = load("demo_spreads")
    f = record["figures"]
    design = table(["seeds a side", "smallest difference decided with 80 % power at 30 scenes", "times the margin"],
                   [[seeds, f"{d:.3f}", f"{d / f['margin']:.1f}"] for seeds, d in f["design_at_30_scenes"].items()])
    rows = [[c["method"], c["metric"].replace("_auc_normalised", " AUC / full score"), f"{c['a']} vs {c['b']}",
             str(c["scenes"]), f"{c['difference']:+.3f}",
             "unbounded" if c["low"] is None else f"[{c['low']:+.3f}, {c['high']:+.3f}]",
             "" if c["df"] is None else f"{c['df']:.1f}", f"{c['seed_sd']:.3f}", f"{c['scene_sd']:.3f}", c["verdict"]]
            for c in f["contrasts"]]
    contrasts = table(["method", "metric", "contrast", "scenes", "a - b", "interval (BY level)", "df (Welch-Satterthwaite)",
                       "seed sd", "scene sd", "verdict"], rows)
    verdicts = collections.Counter(c["verdict"] for c in f["primary"])
    counted = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items()))
    return (design + f"\n\nFrom the spreads of the contrasts below (medians): one net's sd over training seeds "
            f"{f['seed_sd']:.3f}, a scene's {f['scene_sd']:.3f}, of the AUC over the box's unperturbed score.\n\n"
            + contrasts + f"\n\nThe {len(f['primary'])} primary method comparisons over these 3-net families, the net a "
            f"random effect: {counted}; {f['primary_disagreeing_with_interval']} disagree with the interval shown beside "
            f"them. {f['wall_seconds']} s to explain the 9 nets.\n\n" + source(record))
