"""How many scenes a run needs for its primary comparisons to reach verdicts: from a finished
explain.py run's comparisons.json (each primary comparison's variance between scenes and between
the boxes of one scene), the scenes at which a difference of the equivalence margin is found with
80 % power under Holm over the primary family, at the run's boxes per scene and at one box per
scene (``boxes: top``).

    python benchmarks/power.py runs/demo_explain30          # the run's own margin and family
    python benchmarks/power.py RUN --margin 0.03 --power 0.9

Writes benchmarks/results/power.json: per primary comparison its scene sd, within-scene ICC, boxes
per scene and the scenes needed; the largest of them (a difference of the margin found on every
comparison, which a large true difference does not need: it is found sooner), and the largest among
the comparisons the run left undecided, the size a run should have to decide them (one whose true
difference lies at the margin stays undecided at any size); and how many verdicts disagree with the
interval shown beside them (none may). A comparison over nets (the net a random effect) is not sized
in scenes, which cannot shrink the nets' spread: comparisons.csv's ``difference_found`` sizes it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, write_result  # noqa: E402
from reproduction import disagreeing  # noqa: E402

from spectral_xai.analysis.power import POWER, scenes_needed_at  # noqa: E402
from spectral_xai.analysis.statistics import Comparison  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="an explain.py output folder (holding comparisons.json)")
    parser.add_argument("--margin", type=float, default=None, help="default: the run's equivalence margin")
    parser.add_argument("--power", type=float, default=POWER)
    add_results_argument(parser)
    args = parser.parse_args(argv)
    path = args.run / "comparisons.json"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; give an explain.py output folder")
    rows = [Comparison(**row) for row in json.loads(path.read_text())["rows"]]
    primary = [c for c in rows if c.family == "primary" and c.scenes >= 2]
    if not primary:
        raise SystemExit(f"{path}: no primary comparison with two scenes or more")
    margin = args.margin if args.margin is not None else primary[0].margin
    family = len(primary)
    sized = [c for c in primary if c.test != "t"]  # a comparison over nets: scenes cannot size it
    over_nets = family - len(sized)
    if not sized:
        raise SystemExit(f"{path}: every primary comparison is over nets (the net a random effect), which scenes alone "
                         "cannot size: comparisons.csv's difference_found gives what its nets and scenes find, and "
                         "reproduce.py's design check sizes seeds and scenes together")
    print(f"{args.run}: {family} primary comparisons, margin {margin:g}, power {args.power:.0%}, Holm over {family}")
    print(f"{'comparison':<58}{'scene sd':>9}{'ICC':>6}{'boxes/scene':>12}{'scenes':>8}{'at 1 box':>9}{'verdict':>12}")
    table = []
    for c in sized:
        at_run = scenes_needed_at(c.components, margin, family, power=args.power)
        at_one = scenes_needed_at(c.components, margin, family, boxes_per_scene=1, power=args.power)
        name = f"{c.scope}: {c.a} vs {c.b}, {c.metric.replace('_auc', '')}"
        print(f"{name:<58}{c.scene_sd:>9.3f}{c.within_scene_icc:>6.2f}{c.boxes_per_scene:>12.1f}{at_run:>8}{at_one:>9}"
              f"{c.verdict:>12}")
        table.append({"scope": c.scope, "a": c.a, "b": c.b, "metric": c.metric, "scene_sd": round(c.scene_sd, 4),
                      "within_scene_icc": round(c.within_scene_icc, 3), "boxes_per_scene": round(c.boxes_per_scene, 2),
                      "scenes": c.scenes, "verdict": c.verdict, "scenes_needed": at_run, "scenes_needed_one_box": at_one})
    if over_nets:
        print(f"not sized in scenes: {over_nets} comparisons over nets (their difference_found in comparisons.csv)")
    largest = max(table, key=lambda row: row["scenes_needed"])
    undecided = [row["scenes_needed"] for row in table if row["verdict"] not in ("better", "worse", "equivalent")]
    print(f"a difference of the margin on every primary comparison: {largest['scenes_needed']} scenes at "
          f"{largest['boxes_per_scene']} boxes per scene (the hardest: {largest['a']} vs {largest['b']}, {largest['metric']}); "
          f"the undecided ones: {max(undecided, default=0)}")
    write_result("power", args.results, vars(args), {"margin": margin, "power": args.power, "family": family,
                                                     "scenes_in_run": max(c.scenes for c in primary),
                                                     "scenes_needed_max": largest["scenes_needed"],
                                                     "scenes_needed_undecided_max": max(undecided, default=0),
                                                     "primary_disagreeing_with_interval": disagreeing(primary),
                                                     "over_nets_not_sized": over_nets,
                                                     "comparisons": table})


if __name__ == "__main__":
    main()
