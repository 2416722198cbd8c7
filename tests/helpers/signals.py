"""Holding a real training run at a chosen step, so that a test can signal it mid-epoch."""
from __future__ import annotations

import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


class WaitForSignalAt(Callback):
    """At global step ``step`` (once: ``marker`` is written then, and a run that finds it goes on)
    training waits up to ``timeout`` seconds for a stop signal to reach the trainer."""

    def __init__(self, step: int, marker: str, timeout: float = 120.0):
        self.step, self.marker, self.timeout = step, Path(marker), timeout

    def on_train_batch_end(self, trainer: pl.Trainer, *args) -> None:
        if trainer.global_step != self.step or self.marker.exists():
            return
        self.marker.write_text(str(self.step))
        deadline = time.monotonic() + self.timeout
        while not trainer.received_sigterm and time.monotonic() < deadline:
            time.sleep(0.05)
