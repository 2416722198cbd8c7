"""``split.json`` beside a run's checkpoints: the scenes of each part, as papers publish them."""
from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


class SplitRecord(Callback):
    """Writes the sample ids this run uses in each part (``{"train": [...], "val": [...], "test":
    [...]}``: the split of scenes restricted to the ids readable for its spectra) as ``split.json``
    into the checkpoint folder, or the run's root folder when nothing is checkpointed, as fitting
    starts. train.py always adds it; ``data.split: file`` with ``data.split_file`` pointing at that
    file trains another net on the same scenes."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        parts = getattr(trainer.datamodule, "parts", None)
        if not parts or not trainer.is_global_zero:
            return
        checkpoint = trainer.checkpoint_callback
        folder = Path(checkpoint.dirpath if checkpoint is not None and checkpoint.dirpath else trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "split.json").write_text(json.dumps(parts, indent=1) + "\n")
