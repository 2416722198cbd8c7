"""The demo's epoch time with the explanation callback against without it, in one run.

    python benchmarks/callback_overhead.py [--epochs 2]

Fits configs/demo.yaml twice from the same seed, once with its ExplanationCallback firing every epoch
and once with no callback, and prints the mean epoch time (training + validation + explanations) of
each (the explaining run with target_min_score 0, so that every image is explained), their ratio, and the ratio amortised over the demo's schedule (explanations every
``every_n_epochs`` epochs).
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl

from spectral_xai.callbacks import ExplanationCallback
from spectral_xai.cli import SpectralCLI
from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.lit_modules import EfficientDetModule

warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]


class EpochTimer(pl.Callback):
    def __init__(self):
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):  # runs after validation and its callbacks
        self.seconds.append(time.perf_counter() - self.start)


def mean_epoch_seconds(epochs: int, explain: bool, out: Path) -> tuple[float, int]:
    cli = SpectralCLI(EfficientDetModule, MultispectralDataModule, run=False, args=[
        "--config", str(REPO / "configs/demo.yaml"), "--trainer.max_epochs", str(epochs),
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.num_sanity_val_steps", "0",
        "--trainer.default_root_dir", str(out), "--checkpoint.dirpath", str(out / "ckpt")])
    explainers = [c for c in cli.trainer.callbacks if isinstance(c, ExplanationCallback)]
    every = explainers[0].every_n_epochs
    for callback in explainers:
        if explain:
            callback.every_n_epochs = 1
            # A detector this young scores below the usual 0.05; the cost of explaining is what is measured.
            callback.explainer.target_min_score = 0.0
        else:
            cli.trainer.callbacks.remove(callback)
    timer = EpochTimer()
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    if explain:
        print(f"boxes not explained for want of a detection: {explainers[0].totals['no_detection']}")
    return sum(timer.seconds) / len(timer.seconds), every


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, _ = mean_epoch_seconds(args.epochs, explain=False, out=Path(tmp) / "plain")
        explained, every = mean_epoch_seconds(args.epochs, explain=True, out=Path(tmp) / "explained")
    print(f"demo epoch without callback: {plain:.1f} s; with explanations: {explained:.1f} s; "
          f"ratio {explained / plain:.2f}")
    print(f"amortised over the demo's every_n_epochs={every}: ratio {(every * plain + explained - plain) / (every * plain):.2f}")


if __name__ == "__main__":
    main()
