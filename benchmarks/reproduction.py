"""README's Table 2 and sanity table: the paper's comparison on the demo's synthetic data, regenerated.

    python benchmarks/reproduction.py            # reproduce.py --config configs/reproduce_demo.yaml, then the sanity check
    python benchmarks/reproduction.py --quick    # the MIR net, one short epoch, tiny explanations, in a scratch folder
    python benchmarks/reproduction.py --regather # the figures again from the finished run the result file names
    python benchmarks/reproduction.py --regather --comparisons DIR  # ... with the verdicts explain.py --reanalyse wrote to DIR

Writes benchmarks/results/reproduction.json. Runs ``reproduce.py`` (five nets trained with one recipe
on one split, explained together) and then ``explain.py --methods all --sanity_check`` on its MIR net,
each as a user runs it; then gathers, per net and spectrum, the final val/map_50 (from the net's
offline W&B run), every method's mean deletion and insertion AUC and seconds per box (summary.json);
every registered method's means on the MIR net (AUCs, pointing game, energy pointing game, ODI,
seconds, blank maps); per method and randomised stage, the Spearman correlations of the sanity check
and the rule it scored by; what the paired comparisons of the five nets support (the report's
sentences); the spectrum contrasts (the training seed a replicate where the config names several
seeds; the sanity check then runs on the first seed's MIR net), the metric reliability table and,
where the config runs it, the randomisation test of the configured methods on every net.
A finished reproduction in ``--output`` is reused (reproduce.py skips finished nets).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import keep_measured_run, reproduction_parser, write_result  # noqa: E402
from trained import REPO  # noqa: E402
from spectral_xai.wandb_records import history  # noqa: E402

from spectral_xai.reporting.comparisons import primary_sentences  # noqa: E402
from spectral_xai.analysis.statistics import ALPHA, VERDICTS, Comparison, lower_is_better  # noqa: E402

SANITY = ["--methods", "all", "--num_images", "8", "--sanity_check", "--sanity_images", "2"]
METRICS = ("deletion_auc", "insertion_auc", "pointing_game", "energy_pointing_game", "odi", "seconds")
SPECTRUM_FIELDS = ("scope", "metric", "a", "b", "scenes", "boxes", "mean_difference", "low", "high", "p_adjusted", "verdict", "note")
QUICK_REPRODUCE = ["--nets", "mir", "--train_args",
                   "--trainer.max_epochs 1 --trainer.limit_train_batches 2 --trainer.limit_val_batches 1 "
                   "--trainer.callbacks [] --trainer.enable_progress_bar false --data.synthetic '{num_scenes: 16, seed: 0}'",
                   "--explain", "{methods: [gradcam, rise], method_settings: {rise: {n_masks: 8}}, num_images: 2, step: 0.25, boxes: top, "
                   "target_min_score: 0.0, scene_grids: 1}"]
QUICK_SANITY = ["--methods", "gradcam,rise", "--method_settings", "{rise: {n_masks: 8}}", "--num_images", "1", "--step", "0.5",
                "--target_min_score", "0.0", "--sanity_check", "--sanity_images", "1"]


def run(script: str, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / script), *args], cwd=REPO, check=True,
                   env={**os.environ, "WANDB_MODE": "offline"})
    return time.perf_counter() - start


def training_seconds(run_folder: Path) -> float:
    """A net's training time: from its split (written before the first step) to its last checkpoint."""
    checkpoints = run_folder / "checkpoints"
    return round((checkpoints / "last.ckpt").stat().st_mtime - (checkpoints / "split.json").stat().st_mtime)


def last_checkpoints(output: Path) -> dict[Path, float]:
    """Each net's last.ckpt in ``output`` and when it was written."""
    return {path: path.stat().st_mtime for path in output.glob("*/checkpoints/last.ckpt")}


def timed_reproduce(config: str, output: Path, *extra: str) -> dict[str, int]:
    """reproduce.py's wall seconds, named ``explain`` where it found every net trained (reproduce.py
    skips finished nets, so it then timed explaining and the report alone), else ``reproduce``."""
    trained_before = last_checkpoints(output)
    spent = round(run("reproduce.py", "--config", config, "--output", str(output), *extra))
    return {"reproduce" if last_checkpoints(output) != trained_before else "explain": spent}


def disagreeing(primary: list[Comparison]) -> int:
    """How many verdicts disagree with their interval (none may): better or worse where it includes 0
    or lies on the other side, undecided where it excludes 0, equivalent where it reaches beyond the
    margin."""
    def agrees(c: Comparison) -> bool:
        if c.verdict in ("better", "worse"):
            a_lower = c.high < 0
            return (c.low > 0 or a_lower) and (a_lower == lower_is_better(c.metric)) == (c.verdict == "better")
        if c.verdict == "equivalent":
            return -c.margin < c.low <= c.high < c.margin
        return c.low <= 0 <= c.high
    return sum(not agrees(c) for c in primary if c.low == c.low)  # an interval is NaN below 2 units, and so is no verdict


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def number(value: float, digits: int) -> float | None:
    """JSON has no NaN: a mean over no maps (every map blank) is None."""
    return None if value != value else round(value, digits)


def final_map50(net_folder: Path) -> float | None:
    values = []
    for run_file in sorted(net_folder.glob("**/offline-run-*/run-*.wandb")):  # a resumed net has several
        values += [(r["epoch"], r["val/map_50"]) for r in history(run_file) if "val/map_50" in r]
    return round(max(values)[1], 4) if values else None


def measure(config: str, output: Path | None, quick: bool) -> tuple[Path, dict[str, float]]:
    """Run reproduce.py, then the sanity check of every method on its (first seed's) MIR net; the
    output folder and each command's wall seconds."""
    output = output or REPO / "runs" / "reproduce_demo"
    seconds = timed_reproduce(config, output, *(["--root", str(output / "data"), *QUICK_REPRODUCE] if quick else []))
    mir_run = min(output.glob("mir-seed*"), default=output / "mir")  # with training seeds, the first seed's MIR net
    seconds["sanity_check"] = run("explain.py", str(mir_run / "checkpoints" / "last.ckpt"), "--output", str(output / "sanity"),
                                  *(QUICK_SANITY if quick else SANITY))
    return output, {k: round(v) for k, v in seconds.items()}


def sanity_cells(sanity: dict) -> dict[str, dict[str, dict]]:
    """method -> stage -> its sanity cell (the mean Spearman over boxes) of a one-net sanity.json."""
    table: dict[str, dict[str, dict]] = {}
    for row in sanity["rows"]:
        cell = {"spearman": number(row["spearman"]["mean"], 3), "spearman_support": number(row["spearman_support"]["mean"], 3),
                "compared": row["compared"], "blank": row["blank"], "rule": row["rule"]}
        table.setdefault(row["method"], {})[row["stage"]] = cell
    return table


def sanity_over_nets(sanity: dict) -> dict[str, dict[str, dict]]:
    """method -> stage -> the Spearman of every net x spectrum the reproduction ran the randomisation
    test on (None where all its maps were blank), with the maps compared and blank over all of them."""
    table: dict[str, dict[str, dict]] = {}
    for row in sanity["rows"]:
        cell = table.setdefault(row["method"], {}).setdefault(row["stage"], {"spearman": [], "compared": 0, "blank": 0, "nets": 0})
        cell["spearman"].append(number(row["spearman"]["mean"], 3))
        cell["compared"] += row["compared"]
        cell["blank"] += row["blank"]
        cell["nets"] += 1
    return table


def table2(output: Path, summary: dict) -> list[dict]:
    methods = [key for key, value in summary["rows"][0].items() if isinstance(value, dict) and "deletion_auc" in value]
    table = []
    for row in summary["rows"]:
        entry = {"model": row["model"], "spectrum": row["spectrum"], "val_map_50": final_map50(output / row["model"])}
        for method in methods:
            stats = row[method]
            entry[method] = {"deletion_auc": number(stats["deletion_auc"]["mean"], 4),
                             "insertion_auc": number(stats["insertion_auc"]["mean"], 4),
                             "seconds_per_box": number(stats["seconds"]["mean"], 3), "boxes": stats["boxes"],
                             "blank": stats["blank"]}
        table.append(entry)
        print(f"{entry['model']} on {entry['spectrum']}: val/map_50 {entry['val_map_50']}; " +
              "; ".join(f"{m} {entry[m]['deletion_auc']} / {entry[m]['insertion_auc']}" for m in methods))
    return table


def gathered(output: Path, seconds: dict[str, float], compared_in: Path | None = None) -> dict:
    """The figures of a finished reproduction in ``output``; its comparisons from ``compared_in`` where
    given (``explain.py --reanalyse`` of its explanations, after a change to the statistics)."""
    explained = output / "explain"
    sanity = json.loads((output / "sanity" / "sanity.json").read_text())
    cells = sanity_cells(sanity)
    (mir,) = json.loads((output / "sanity" / "summary.json").read_text())["rows"]
    every_method = {method: {key: number(mir[method][key]["mean"], 4) for key in METRICS}
                    | {"boxes": mir[method]["boxes"], "blank": mir[method]["blank"]} for method in cells}
    # What the nets' explanations support, as the report words it.
    compared = [Comparison(**row) for row in json.loads(((compared_in or explained) / "comparisons.json").read_text())["rows"]]
    primary = [c for c in compared if c.family == "primary"]
    every_net = json.loads((explained / "sanity.json").read_text()) if (explained / "sanity.json").is_file() else None
    nets = sorted(p for p in output.iterdir() if (p / "checkpoints" / "last.ckpt").is_file())
    return {"table2": table2(output, json.loads((explained / "summary.json").read_text())),
            "nets": {net.name: {"training_seconds": training_seconds(net), "val_map_50": final_map50(net)} for net in nets},
            "sanity": {"stages": sanity["stages"], "methods": cells}, "every_method_mir": every_method,
            "sanity_every_net": {"stages": every_net["stages"], "methods": sanity_over_nets(every_net)} if every_net else None,
            "supported": primary_sentences(compared),
            "primary": {verdict: sum(c.verdict == verdict for c in primary) for verdict in VERDICTS},
            "primary_disagreeing_with_interval": disagreeing(primary),
            "exploratory": {"tested": sum(c.p is not None for c in compared if c.family == "exploratory"),
                            "q_below_alpha": sum(c.p_adjusted is not None and c.p_adjusted < ALPHA
                                                 for c in compared if c.family == "exploratory")},
            "spectrum_contrasts": [{key: getattr(c, key) for key in SPECTRUM_FIELDS} for c in compared
                                   if c.table == "spectra" and c.boxes],
            "metric_reliability": read_csv(explained / "metric_reliability.csv"),
            "wall_seconds": seconds, "output": str(output),
            "comparisons_from": str(compared_in or explained)}


def main() -> None:
    parser = reproduction_parser(__doc__, "configs/reproduce_demo.yaml")
    parser.add_argument("--comparisons", type=Path, default=None,
                        help="with --regather: the comparisons of explain.py --reanalyse <output>/explain --output DIR "
                             "(the run's verdicts under this commit's statistics) instead of the run's own")
    args = parser.parse_args()
    if args.comparisons and not args.regather:
        parser.error("--comparisons is read with --regather")
    if args.regather:
        previous = json.loads((args.results / "reproduction.json").read_text())
        output, seconds = Path(previous["figures"]["output"]), previous["figures"]["wall_seconds"]
    else:
        output = args.output or (Path(tempfile.mkdtemp(prefix="reproduction-")) if args.quick else None)
        output, seconds = measure(args.config, output, args.quick)
    path = write_result("reproduction", args.results, vars(args), gathered(output, seconds, args.comparisons))
    if args.regather:
        keep_measured_run(path, previous)


if __name__ == "__main__":
    main()
