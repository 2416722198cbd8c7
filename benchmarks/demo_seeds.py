"""Demo stability over seeds: val/map_50 per epoch of demo runs, read from their offline W&B files.

    python benchmarks/demo_seeds.py --train [--seeds 0 1 2] [--variants shipped raw]  # trains them (finished runs are reused)
    python benchmarks/demo_seeds.py RUN_DIR ... [-- RUN_DIR ...]  # reads finished runs only, groups split by --

Writes benchmarks/results/demo_seeds.json. ``--train`` runs ``train.py fit --config configs/demo.yaml
--seed_everything N`` per seed, as shipped and with ``--model.ema_decay null``, into runs/demo_seeds/
(``--quick``: 2 epochs of 2 batches on 16 scenes, into a scratch folder, to check that this runs).
Prints, per run, the final and best val/map_50, its wall time and whether any epoch after the first
third fell below half of the best so far; then min / median / max of the final val/map_50 per group.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, spread, write_result  # noqa: E402
from trained import REPO  # noqa: E402
from spectral_xai.wandb_records import history  # noqa: E402

VARIANTS = {"shipped": ("as shipped", []), "raw": ("raw weights (--model.ema_decay null)", ["--model.ema_decay", "null"])}
QUICK = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
         "--data.synthetic", "{num_scenes: 16, seed: 0}", "--model.scheduler.init_args.milestones", "[1]"]


def map50_by_epoch(run_dir: Path) -> list[float]:
    (run_file,) = Path(run_dir).glob("wandb/offline-run-*/run-*.wandb")
    rows = sorted((r for r in history(run_file) if "val/map_50" in r), key=lambda r: r["epoch"])
    return [r["val/map_50"] for r in rows]


def collapses(values: list[float]) -> list[int]:
    """Epochs after the first third whose value is below half of the best so far."""
    return [e for e in range(len(values)) if e >= len(values) / 3 and values[e] < 0.5 * max(values[: e + 1])]


def train(variants: list[str], seeds: list[int], runs: Path, quick: bool) -> dict[str, list[tuple[Path, float | None]]]:
    """Each variant and seed trained into ``runs/<variant>-s<seed>``; a run that finished before (its
    ``finished`` marker written) is read again, not retrained."""
    groups = {}
    for key in variants:
        variant, extra = VARIANTS[key]
        groups[variant] = []
        for seed in seeds:
            out = runs / f"{key}-s{seed}"
            if (out / "finished").is_file():
                groups[variant].append((out, None))
                continue
            data = ["--data.root", str(runs / "data")] if quick else []
            command = [sys.executable, str(REPO / "train.py"), "fit", "--config", str(REPO / "configs/demo.yaml"),
                       "--seed_everything", str(seed), *extra, *data, *(QUICK if quick else []),
                       "--trainer.logger.init_args.save_dir", str(out), "--checkpoint.dirpath", str(out / "checkpoints"),
                       "--trainer.enable_progress_bar", "false"]
            start = time.perf_counter()
            subprocess.run(command, cwd=REPO, check=True, env={**os.environ, "WANDB_MODE": "offline"})
            (out / "finished").touch()
            groups[variant].append((out, time.perf_counter() - start))
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="finished run folders; -- separates groups")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="shipped: configs/demo.yaml as it is; raw: without the weight average")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "demo_seeds")
    add_results_argument(parser)
    args, rest = parser.parse_known_args()
    if args.train:
        runs_dir = Path(tempfile.mkdtemp(prefix="demo-seeds-")) if args.quick else args.runs_dir
        groups = train(args.variants, args.seeds, runs_dir, args.quick)
    else:
        groups, group = {}, []
        for arg in [*args.runs, *rest]:
            if arg == "--":
                groups[f"group {len(groups) + 1}"], group = group, []
            else:
                group.append((Path(arg), None))
        groups[f"group {len(groups) + 1}"] = group
    figures = {}
    for name, runs in groups.items():
        rows = []
        for run, wall in runs:
            values = map50_by_epoch(run)
            rows.append({"run": str(run), "final": round(values[-1], 4), "best": round(max(values), 4),
                         "collapses": collapses(values), "per_epoch": [round(v, 4) for v in values],
                         "wall_seconds": None if wall is None else round(wall, 1)})
            print(f"{run}: final {values[-1]:.3f}, best {max(values):.3f}, {wall or float('nan'):.0f} s, collapses after the first "
                  f"third: {collapses(values) or 'none'}; per epoch {' '.join(f'{v:.2f}' for v in values)}")
        final = spread([row["final"] for row in rows], 3)
        figures[name] = {"runs": rows, "final_map_50": final}
        print(f"  {name}: final val/map_50 over {len(rows)} runs: min {final['min']:.3f} / median "
              f"{final['median']:.3f} / max {final['max']:.3f}\n")
    write_result("demo_seeds", args.results, {k: v for k, v in vars(args).items() if k != "runs"}, figures)


if __name__ == "__main__":
    main()
