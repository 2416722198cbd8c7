"""The spreads behind reproduce.py's design check, and the seed as a random effect on real nets: the
demo reproduction's RGB, MIR and FIR nets of training seeds 0, 1 and 2 (configs/reproduce_demo.yaml,
trained into runs/reproduce_demo) explained by Grad-CAM beside the baselines on 30 test scenes.

    python benchmarks/demo_spreads.py           # explain the 9 nets, then gather
    python benchmarks/demo_spreads.py --quick   # 2 tiny cached nets of one family, 2 scenes, in a scratch folder

Writes benchmarks/results/demo_spreads.json: per spectrum contrast (each AUC over the box's unperturbed
score) the spread of one net's difference over training seeds (the pairs of nets' spread over sqrt 2)
and of a unit's, its estimate, interval, degrees of freedom and verdict; the medians of both
spreads, which are reproduce.py's ``DEMO_SPREADS``; what the design check says for 2, 3, 5 and 10
seeds a side at 30 scenes from them; the primary method verdicts over each 3-net family (the net a
random effect) and how many disagree with their interval (none may); and the wall seconds.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import statistics
import tempfile
from pathlib import Path

from reproduction import disagreeing, run
from result_files import add_results_argument, write_result
from trained import REPO

from spectral_xai.analysis.seeds import design_check
from spectral_xai.analysis.statistics import Comparison
from spectral_xai.cached_nets import trained_net

NETS = [f"{spectrum}-seed{seed}" for spectrum in ("rgb", "mir", "fir") for seed in (0, 1, 2)]
EXPLAIN = ["--methods", "gradcam", "--num_images", "30", "--boxes", "8", "--target_min_score", "0.3", "--step", "0.1"]
QUICK = ["--methods", "gradcam", "--num_images", "2", "--boxes", "2", "--target_min_score", "0.0", "--step", "0.5"]
PLANNED = (2, 3, 5, 10)
TINY = ["--data.image_size", "128", "--data.batch_size", "2", "--data.num_workers", "0", "--data.val_fraction", "0.2",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
        "--trainer.logger", "false", "--trainer.callbacks", "null", "--trainer.enable_progress_bar", "false"]


def finite(value: float | None, digits: int = 4) -> float | None:
    """A figure for the record: None where it is undefined or unbounded (an interval the units cannot close)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


def contrasts(rows: list[dict]) -> list[dict]:
    """The spectrum contrasts over several seeds a side, with their spreads."""
    found = []
    for r in rows:
        if r["table"] != "spectra" or r["repeat_sd"] is None or not math.isfinite(r["repeat_sd"]):
            continue
        df = re.search(r"t on ([\d.]+) df", r["note"])
        found.append({"method": r["scope"], "metric": r["metric"], "a": r["a"], "b": r["b"], "scenes": r["scenes"],
                      "objects": r["boxes"], "difference": finite(r["mean_difference"]), "low": finite(r["low"]),
                      "high": finite(r["high"]), "df": float(df.group(1)) if df else None, "verdict": r["verdict"],
                      "seed_sd": finite(r["repeat_sd"] / math.sqrt(2)), "scene_sd": finite(r["scene_sd"])})
    return found


def gathered(output: Path, seconds: float, margin: float = 0.02) -> dict:
    rows = json.loads((output / "comparisons.json").read_text())["rows"]
    seeded = [c for c in contrasts(rows) if c["seed_sd"] is not None and c["scene_sd"] is not None]
    seed_sd = round(statistics.median(c["seed_sd"] for c in seeded), 3) if seeded else None
    scene_sd = round(statistics.median(c["scene_sd"] for c in seeded), 3) if seeded else None
    primary = [r for r in rows if r["family"] == "primary"]
    design = ({str(seeds): round(design_check(seeds, 30, margin, seed_sd, scene_sd)[0], 3) for seeds in PLANNED}
              if seeded else {})
    return {"contrasts": seeded, "seed_sd": seed_sd, "scene_sd": scene_sd, "design_at_30_scenes": design,
            "margin": margin, "primary": [{key: r[key] for key in ("scope", "metric", "a", "b", "scenes", "verdict", "note")}
                                          | {"difference": finite(r["mean_difference"]), "low": finite(r["low"]),
                                             "high": finite(r["high"]), "level": finite(r["level"])} for r in primary],
            "primary_disagreeing_with_interval": disagreeing([Comparison(**r) for r in primary]), "wall_seconds": round(seconds), "output": str(output)}


def tiny_families(folder: Path) -> list[Path]:
    """MIR and FIR nets of training seeds 0 and 1, one batch of one epoch each (the content-keyed cache), each
    in a run folder named as reproduce.py names a family's nets."""
    found = []
    for spectrum in ("mir", "fir"):
        for seed in (0, 1):
            cached = trained_net([spectrum], seed, args=TINY, data={"num_scenes": 24, "seed": 0})
            found.append(Path(shutil.copytree(cached.parent, folder / f"{spectrum}-seed{seed}" / "checkpoints")) / "last.ckpt")
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "reproduce_demo")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    add_results_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        checkpoints, explain = tiny_families(Path(tempfile.mkdtemp(prefix="demo-spreads-nets-"))), QUICK
    else:
        checkpoints, explain = [args.runs / net / "checkpoints" / "last.ckpt" for net in NETS], EXPLAIN
    output = args.output or (Path(tempfile.mkdtemp(prefix="demo-spreads-")) / "explain" if args.quick
                             else REPO / "runs" / "demo_spreads")
    seconds = run("explain.py", *map(str, checkpoints), *explain, "--output", str(output), "--overwrite")
    write_result("demo_spreads", args.results, vars(args), gathered(output, seconds))


if __name__ == "__main__":
    main()
