"""Demo stability over seeds: val/map_50 per epoch of finished demo runs, read from their offline W&B files.

    python train.py fit --config configs/demo.yaml --seed_everything 1 \
        --trainer.logger.init_args.save_dir runs/ema-s1 --checkpoint.dirpath runs/ema-s1/checkpoints
    python benchmarks/demo_seeds.py runs/ema-s0 runs/ema-s1 runs/ema-s2 -- runs/noema-s0 runs/noema-s1 runs/noema-s2

Prints, per run, the final and best val/map_50 and whether any epoch after the first third fell below
half of the best so far; then min / median / max of the final val/map_50 per group (groups split by --).
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.wandb_records import history  # noqa: E402


def map50_by_epoch(run_dir: Path) -> list[float]:
    (run_file,) = Path(run_dir).glob("wandb/offline-run-*/run-*.wandb")
    rows = sorted((r for r in history(run_file) if "val/map_50" in r), key=lambda r: r["epoch"])
    return [r["val/map_50"] for r in rows]


def collapses(values: list[float]) -> list[int]:
    """Epochs after the first third whose value is below half of the best so far."""
    return [e for e in range(len(values)) if e >= len(values) / 3 and values[e] < 0.5 * max(values[: e + 1])]


def main(args: list[str]) -> None:
    groups, group = [], []
    for arg in args:
        if arg == "--":
            groups.append(group)
            group = []
        else:
            group.append(Path(arg))
    groups.append(group)
    for runs in groups:
        finals = []
        for run in runs:
            values = map50_by_epoch(run)
            finals.append(values[-1])
            print(f"{run}: final {values[-1]:.3f}, best {max(values):.3f}, collapses after the first third: "
                  f"{collapses(values) or 'none'}; per epoch {' '.join(f'{v:.2f}' for v in values)}")
        print(f"  final val/map_50 over {len(finals)} runs: min {min(finals):.3f} / median "
              f"{statistics.median(finals):.3f} / max {max(finals):.3f}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
