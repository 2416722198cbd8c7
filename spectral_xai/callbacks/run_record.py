"""What answers "which run is this": ``split.json`` beside the checkpoints (the scenes of each part,
as papers publish them), and in every logger's config the split's hash and part sizes, what the
dataset index read and skipped, the package version and the git commit; in a W&B run's summary the
best ``val/map`` beside the last epoch's scalars (W&B's summary keeps each key's last value); in the
checkpoint the training seed."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import WandbLogger

PACKAGE = "spectral-xai"
MONITOR = "val/map"


def split_hash(parts: dict[str, list[str]]) -> str:
    """A short fingerprint of a split: two runs with the same hash trained and tested on the same scenes."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def package_version() -> str | None:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # running from a copy that was never installed
        return None


def git_commit(folder: Path = Path(__file__).resolve().parent) -> str | None:
    """The commit the package's code is at, ``-dirty`` when it has uncommitted changes; None outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def run_record(datamodule: Any) -> dict[str, Any]:
    """The fields the run's config gets (``run/...``): split hash and part sizes, the dataset
    index's counts, version and commit."""
    parts = dict(getattr(datamodule, "parts", None) or {})
    report = getattr(datamodule, "skip_report", None)
    return {"split_hash": split_hash(parts) if parts else None, "part_sizes": {k: len(v) for k, v in parts.items()},
            "dataset": {"images_read": getattr(datamodule, "samples_read", None),
                        "skipped": dict(report.skipped) if report else {}, "repaired": dict(report.repaired) if report else {}},
            "version": package_version(), "git_commit": git_commit()}


class RunRecord(Callback):
    """Writes the sample ids this run uses in each part (``{"train": [...], "val": [...], "test":
    [...]}``: the split of scenes restricted to the ids readable for its spectra) as ``split.json``
    into the checkpoint folder, or the run's root folder when nothing is checkpointed, and logs
    :func:`run_record` to every logger as ``run``, as fitting starts; keeps the best ``val/map`` in
    a W&B run's summary (``val/map_best``). train.py always adds it; ``data.split: file`` with
    ``data.split_file`` pointing at split.json trains another net on the same scenes."""

    def __init__(self) -> None:
        self.best: float | None = None
        self.seed: int | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seed = training_seed()
        parts = getattr(trainer.datamodule, "parts", None)
        if not trainer.is_global_zero:
            return
        if parts:
            (split_folder(trainer) / "split.json").write_text(json.dumps(parts, indent=1) + "\n")
        record = run_record(trainer.datamodule)
        for logger in trainer.loggers:
            logger.log_hyperparams({"run": record})

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Not on_validation_epoch_end: callbacks' run before the module's, which logs this epoch's val/map.
        value = trainer.callback_metrics.get(MONITOR)
        if trainer.sanity_checking or value is None or not trainer.is_global_zero:
            return
        self.best = max(float(value), self.best if self.best is not None else float("-inf"))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.summary[f"{MONITOR}_best"] = self.best

    def state_dict(self) -> dict[str, Any]:
        # A resumed run keeps the best of the epochs before; explain.py reads the seed to tell nets
        # that differ only by it (a checkpoint carries no other record of it).
        return {"best": self.best, "seed": self.seed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")


def training_seed() -> int | None:
    """The run's ``seed_everything``, which Lightning keeps in ``PL_GLOBAL_SEED``; None when unseeded."""
    seed = os.environ.get("PL_GLOBAL_SEED")
    return int(seed) if seed is not None else None


def split_folder(trainer: pl.Trainer) -> Path:
    """Where split.json goes: the checkpoint folder, else the run's root folder."""
    checkpoint = trainer.checkpoint_callback
    folder = Path(checkpoint.dirpath if checkpoint is not None and checkpoint.dirpath else trainer.default_root_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
