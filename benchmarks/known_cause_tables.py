"""The known-cause reproduction's tables (``benchmarks/results/known_cause_reproduction.json``): each
method against the true causes with its verdicts, the boxes with measurable causes and the cue,
which metric agrees with the truth, the negative controls and the fused net's spectrum truth."""
from __future__ import annotations

from result_tables import load, source, table

NAME = "known_cause_reproduction"
SCORES = {"part_ranking": "part ranking", "top_part": "top part", "cue_enrichment": "cue enrichment",
          "target_sensitivity": "on other objects"}
BASELINES = ("box", "random", "edges")


def _cell(stats: dict | None) -> str:
    if not stats or stats.get("mean") is None:
        return "-"
    interval = "" if stats.get("low") is None else f" [{stats['low']:.2f}, {stats['high']:.2f}]"
    return f"{stats['mean']:.2f}{interval}"


def _verdicts(figures: dict, scope: str, method: str, metric: str) -> str:
    """A method's verdicts against the baselines on one score: ``>box <random =edges ?`` (better, worse,
    equivalent, undecided), as the comparisons decided them."""
    marks = {"better": ">", "worse": "<", "equivalent": "=", "undecided": "?"}
    found = []
    for row in figures["verdicts"]:
        if row["scope"] == scope and row["metric"] == metric and row["a"] == method and row["b"] in BASELINES:
            found.append(f"{marks.get(row['verdict'], '?')}{row['b']}")
    return " ".join(found)


def known_cause_methods() -> str:
    record = load(NAME)
    figures = record["figures"]
    rows = []
    for entry in figures["judged"]:
        scope = f"{entry['model']} on {entry['spectrum']}"
        for method, scores in entry["methods"].items():
            verdict = _verdicts(figures, scope, method, "part_ranking")
            rows.append([scope, method, *(_cell(scores.get(metric)) for metric in SCORES), verdict or "-"])
    return (table(["net on spectrum", "method", *(f"{label} [95 % CI]" for label in SCORES.values()),
                   "part ranking vs baselines"], rows)
            + "\n\nVerdicts (primary family, Holm): `>` better than, `<` worse than, `=` equivalent to (within 0.1), "
            "`?` undecided against that baseline.\n\n" + source(record))


def known_cause_counts() -> str:
    record = load(NAME)
    figures = record["figures"]
    nets = figures["nets"]
    rows = []
    for row in figures["known_causes"]:
        if row["targets"] != "detection":
            continue
        net = nets.get(row["model"], {})
        rows.append([f"{row['model']} on {row['spectrum']}", "-" if net.get("val_map_50") is None else f"{net['val_map_50']:.2f}",
                     f"{row['with_known_causes']} of {row['boxes']}", row["measurable"],
                     f"{row['cue_measurable']} of {row['running_cars']}", row["median_cue_effect"] or "-",
                     row["median_running_car_score"] or "-", str(net.get("training_seconds", "-"))])
    wall, training = figures["wall_seconds"], sum(net["training_seconds"] for net in nets.values())
    if "explain" in wall:  # a run that found its nets trained: explaining and the report alone
        total = training + wall["explain"]
        timing = (f"Training the {len(nets)} nets took {training} s and explaining them with the report {wall['explain']} s: "
                  f"{total} s ({total / 60:.0f} min) on this machine.")
    else:
        timing = f"The whole run took {wall['reproduce']} s ({wall['reproduce'] / 60:.0f} min) on this machine, {training} s of it training."
    return (table(["net on spectrum", "final val/map_50", "detections with known causes", "measurable",
                   "running cars whose cue effect is measurable", "median cue effect", "median running-car score",
                   "training s"], rows)
            + f"\n\n{timing}\n\n" + source(record))


def metric_truth() -> str:
    record = load(NAME)
    rows = []
    for row in record["figures"]["metric_truth"]:
        if row["compared"] != "with the truth":
            continue
        rows.append([f"{row['model']} on {row['spectrum']}", row["metric"], row["scenes"],
                     f"{float(row['mean_tau']):+.2f} [{float(row['low']):+.2f}, {float(row['high']):+.2f}]" if row["mean_tau"] else "-",
                     row["verdict"]])
    return table(["net on spectrum", "metric", "scenes", "mean tau with the truth [simultaneous 95 % CI]", "verdict"], rows) \
        + "\n\n" + source(record)


def metric_pairs() -> str:
    record = load(NAME)
    rows = [[f"{row['model']} on {row['spectrum']}", row["metric"], row["against"],
             f"{float(row['mean_tau']):+.2f} [{float(row['low']):+.2f}, {float(row['high']):+.2f}]", row["verdict"]]
            for row in record["figures"]["metric_truth"] if row["compared"] == "with another metric" and row["verdict"] != "undecided"]
    if not rows:
        return "No pair of metrics differs in its agreement with the truth at this run's scenes.\n\n" + source(record)
    return table(["net on spectrum", "metric", "than", "tau difference [simultaneous 95 % CI]", "verdict"], rows) + "\n\n" + source(record)


def negative_controls() -> str:
    record = load(NAME)
    rows = [[f"{row['model']} on {row['spectrum']}", row["method"], row["metric"], f"{row['method_better']} of {row['scenes']}",
             row["p"]] for row in record["figures"]["negative_controls"]]
    return table(["net on spectrum", "method", "metric", "scenes where the method beats its random-net control",
                  "sign test p"], rows) + "\n\n" + source(record)


def spectrum_truth() -> str:
    record = load(NAME)
    rows = [[f"{row['model']} on {row['spectrum']}", row["targets"], row["rendered_away"], f"{row['measurable']} of {row['boxes']}",
             f"{row['same_top_spectrum'] or '-'} [{row['low'] or '-'}, {row['high'] or '-'}]", row["share_distance"] or "-",
             row["true_shares"] or "-", row["attributed_shares"] or "-"] for row in record["figures"]["spectrum_truth"]]
    return table(["net on input", "targets", "rendered away in one spectrum", "measurable boxes",
                  "same top spectrum [95 % CI]", "share distance", "true shares", "attributed shares"], rows) \
        + "\n\n" + source(record)
