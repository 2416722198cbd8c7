"""README's known-cause tables: every method judged against what truly moved the net, and every metric
judged against that truth, from ``reproduce.py --config configs/reproduce_known_cause.yaml``.

    python benchmarks/known_cause_reproduction.py            # the whole reproduction, timed
    python benchmarks/known_cause_reproduction.py --quick    # the MIR net, two steps, tiny explanations, in a scratch folder
    python benchmarks/known_cause_reproduction.py --regather # the figures again from the finished run the result file names

Writes benchmarks/results/known_cause_reproduction.json: per net, its training seconds (its
``split.json`` to its ``last.ckpt``) and final val/map_50; per net x method the known-cause scores
(summary.json: mean and scene-bootstrap interval) and the primary verdicts on them (comparisons.json);
the boxes with known and with measurable causes and the cue's effect (known_causes.csv); which metric
agrees with the known causes (metric_truth.csv); the negative controls (negative_controls.csv); the
fused net's spectrum truth (spectrum_truth.csv); alpha over the explainers alone
(metric_reliability.csv); and the wall seconds of the run. A finished net in the output is reused
(reproduce.py skips it), so the wall seconds count only what this run did: the training seconds
are each net's own.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from reproduction import final_map50, number, read_csv, timed_reproduce, training_seconds
from result_files import keep_measured_run, reproduction_parser, write_result

from spectral_xai.analysis.statistics import Comparison

CONFIG = "configs/reproduce_known_cause.yaml"
JUDGED = ("part_ranking", "top_part", "cue_enrichment", "target_sensitivity")
QUICK = ["--nets", "mir", "--train_args",
         "--trainer.max_epochs 1 --trainer.limit_train_batches 2 --trainer.limit_val_batches 1 --trainer.callbacks [] "
         "--trainer.enable_progress_bar false --data.synthetic '{num_scenes: 16, seed: 0, known_cause: true}'",
         "--explain", "{methods: [gradcam, edges], num_images: 2, step: 0.5, boxes: 2, target_min_score: 0.0, "
         "targets: [detections, missed], scene_grids: 0, known_causes: true, metric_checks: true, road_checks: true, "
         "negative_controls: [gradcam]}"]


def judged(summary: dict) -> list[dict]:
    """Per net x spectrum (detections), each method's known-cause scores: mean, interval, n."""
    rows = []
    for entry in summary["rows"]:
        if entry["targets"] != "detection":
            continue
        methods = [key for key, value in entry.items() if isinstance(value, dict) and "seconds" in value]
        rows.append({"model": entry["model"], "spectrum": entry["spectrum"], "methods": {
            method: {metric: {key: number(entry[method][metric].get(key, float("nan")), 3) for key in ("mean", "low", "high")}
                     | {"n": entry[method][metric]["n"]} for metric in JUDGED if metric in entry[method]}
            for method in methods}})
    return rows


def verdicts(compared: list[Comparison]) -> list[dict]:
    """The primary comparisons on the known-cause scores, with their verdicts."""
    return [{"scope": c.scope, "metric": c.metric, "a": c.a, "b": c.b, "scenes": c.scenes, "mean_difference": number(c.mean_difference, 3),
             "low": number(c.low, 3), "high": number(c.high, 3), "p_adjusted": number(c.p_adjusted, 4) if c.p_adjusted is not None else None,
             "verdict": c.verdict} for c in compared if c.family == "primary" and c.metric in JUDGED]


def gathered(output: Path, seconds: dict[str, float]) -> dict:
    """The figures of a finished known-cause reproduction in ``output``."""
    explained = output / "explain"
    nets = sorted(p for p in output.iterdir() if (p / "checkpoints" / "last.ckpt").is_file())
    compared = [Comparison(**row) for row in json.loads((explained / "comparisons.json").read_text())["rows"]]
    optional = {name: read_csv(explained / f"{name}.csv") if (explained / f"{name}.csv").is_file() else []
                for name in ("spectrum_truth", "negative_controls")}
    return {"nets": {net.name: {"training_seconds": training_seconds(net), "val_map_50": final_map50(net)} for net in nets},
            "judged": judged(json.loads((explained / "summary.json").read_text())), "verdicts": verdicts(compared),
            "known_causes": read_csv(explained / "known_causes.csv"), "metric_truth": read_csv(explained / "metric_truth.csv"),
            **optional, "metric_reliability": read_csv(explained / "metric_reliability.csv"),
            "wall_seconds": seconds, "output": str(output)}


def main(argv: list[str] | None = None) -> None:
    parser = reproduction_parser(__doc__, CONFIG)
    parser.add_argument("--wall-seconds", type=int, default=None,
                        help="with --regather where no result file was written (a run whose gathering failed): the "
                             "wall seconds it measured for a run that found every net trained (explaining and the report "
                             "alone), and --output its folder")
    args = parser.parse_args(argv)
    previous = None
    if args.regather and args.wall_seconds is not None:
        output, seconds = args.output or Path("runs/reproduce_known_cause"), {"explain": args.wall_seconds}
    elif args.regather:
        previous = json.loads((args.results / "known_cause_reproduction.json").read_text())
        output, seconds = Path(previous["figures"]["output"]), previous["figures"]["wall_seconds"]
    else:
        output = args.output or (Path(tempfile.mkdtemp(prefix="known-cause-")) if args.quick else Path("runs/reproduce_known_cause"))
        seconds = timed_reproduce(args.config, output, *(["--root", str(output / "data"), *QUICK] if args.quick else []))
    path = write_result("known_cause_reproduction", args.results, vars(args), gathered(output, seconds))
    if previous is not None:
        keep_measured_run(path, previous)


if __name__ == "__main__":
    main()
