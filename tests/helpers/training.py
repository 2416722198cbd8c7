"""Running train.py's CLI in-process or as a subprocess, on tiny settings."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spectral_xai.train_cli import SpectralCLI
from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.lit_modules import EfficientDetModule

REPO = Path(__file__).resolve().parents[2]


def tiny_args(config: str, root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--config", str(REPO / config),
        "--data.root", str(root), "--data.image_size", "128", "--data.batch_size", "2", "--data.num_workers", "0",
        "--data.val_fraction", "0.2",
        "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(out), "--trainer.logger.init_args.save_dir", str(out),
        "--checkpoint.dirpath", str(out / "checkpoints"), *extra,
    ]


def run_cli(args: list[str], run: bool = True) -> SpectralCLI:
    return SpectralCLI(EfficientDetModule, MultispectralDataModule, args=(["fit", *args] if run else args),
                       run=run, save_config_kwargs={"overwrite": True})


def run_script(script: str, args: list[str], cwd: Path, env: dict | None = None,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """One of the repository's scripts in its own process, as a user runs it (W&B offline)."""
    # The repository on the path: a run's config may name a test helper (tests.helpers.signals).
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def train_py(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """train.py in its own process (Lightning's ddp relaunches the command line for rank 1)."""
    return run_script("train.py", args, cwd, env, timeout)


def fit_ddp_subprocess(root: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    args = tiny_args("configs/demo.yaml", root, out, *extra, "--trainer.max_epochs", "1",
                     "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                     "--trainer.devices", "2", "--trainer.strategy", "ddp")
    result = train_py(["fit", *args], cwd=out)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


# reproduce.py's nets trained for two steps, no callbacks.
FAST_TRAIN = ["--data.image_size", "128", "--data.batch_size", "2", "--data.num_workers", "0",
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
              "--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false"]


def run_ids(run: Path) -> set[str]:
    """The W&B offline runs a training run folder holds, by id."""
    return {folder.name.rsplit("-", 1)[1] for folder in (run / "wandb").glob("offline-run-*")}
