"""The demo's epoch time with the explanation callback firing against without it, alternated in one run.

    python benchmarks/callback_overhead.py [--checkpoint CKPT] [--rounds 3]

Writes benchmarks/results/callback_overhead.json.

Fits the demo config (its callback as configured: Grad-CAM, RISE at 200 masks and SIDU on 4
validation scenes) on the trained net's data, starting from the trained net's weights (the tests'
shared net by default), so that the explained boxes score above the scoring rule's floor as they do
in a real run. The callback fires every second epoch: after a warm-up epoch, each round is an epoch
that explains and the plain epoch after it (training + validation + explanations, timed from the
epoch's start to its end). The ratio of each round is kept, and the ratio amortised over the demo's
schedule (explanations every ``every_n_epochs`` epochs) is derived from the median.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, spread, write_result  # noqa: E402
from trained import REPO, add_checkpoint_argument, checkpoint_path  # noqa: E402

from spectral_xai.callbacks import ExplanationCallback  # noqa: E402
from spectral_xai.checkpoint import read_checkpoint  # noqa: E402
from spectral_xai.train_cli import SpectralCLI  # noqa: E402
from spectral_xai.data_modules.datamodule import MultispectralDataModule  # noqa: E402
from spectral_xai.lit_modules import EfficientDetModule  # noqa: E402


class EpochTimer(pl.Callback):
    def __init__(self):
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):  # runs after validation and its callbacks
        self.seconds.append(time.perf_counter() - self.start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit-batches", type=int, default=0, help="train and validation batches per epoch (0: all)")
    parser.add_argument("--num-images", type=int, default=0, help="scenes the callback explains (0: the demo's)")
    args = parser.parse_args(argv)
    checkpoint = checkpoint_path(args.checkpoint)
    trained = read_checkpoint(checkpoint)
    limits = ["--trainer.limit_train_batches", str(args.limit_batches),
              "--trainer.limit_val_batches", str(args.limit_batches)] if args.limit_batches else []
    with tempfile.TemporaryDirectory() as out:
        cli = SpectralCLI(EfficientDetModule, MultispectralDataModule, run=False, args=[
            "--config", str(REPO / "configs/demo.yaml"), "--data.root", trained["datamodule_hyper_parameters"]["root"],
            "--data.num_workers", "0", "--model.ema_decay", "null",  # the trained net has no weight average
            "--model.optimizer.init_args.lr", "0.0004", "--trainer.max_epochs", str(2 * args.rounds + 1), *limits,
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.num_sanity_val_steps", "0",
            "--trainer.default_root_dir", out, "--checkpoint.dirpath", f"{out}/ckpt"])
        cli.model.load_state_dict(trained["state_dict"])
        (explainer,) = [c for c in cli.trainer.callbacks if isinstance(c, ExplanationCallback)]
        every = explainer.every_n_epochs
        explainer.num_images = args.num_images or explainer.num_images
        explainer.every_n_epochs = 2  # epochs 1, 3, 5, ...: an explaining epoch, then a plain one
        timer = EpochTimer()
        cli.trainer.callbacks.append(timer)
        cli.trainer.fit(cli.model, cli.datamodule)
    explained, plain = timer.seconds[1::2], timer.seconds[2::2]
    ratios = [e / p for e, p in zip(explained, plain)]
    median = statistics.median(ratios)
    amortised = (every - 1 + median) / every
    figures = {"explaining_epoch_s": spread(explained), "plain_epoch_s": spread(plain), "ratio": spread(ratios, 3),
               "demo_every_n_epochs": every, "ratio_amortised_over_demo_schedule": round(amortised, 3),
               "boxes_without_detection": explainer.totals["no_detection"], "failures": explainer.totals["failures"]}
    print(f"epochs explaining: {' '.join(f'{s:.1f}' for s in explained)} s; plain: {' '.join(f'{s:.1f}' for s in plain)} s")
    print(f"ratio min {min(ratios):.2f} / median {median:.2f} / max {max(ratios):.2f}; amortised over the demo's "
          f"every_n_epochs={every}: {amortised:.2f}; boxes without a detection: {explainer.totals['no_detection']}")
    write_result("callback_overhead", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
