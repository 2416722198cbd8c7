"""Holding a real training run at a chosen step, so that a test can signal it mid-epoch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from .training import REPO


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


def signal_when_held(command: list[str], marker: Path, cwd: Path, signum: int = signal.SIGTERM,
                     timeout: float = 300.0) -> tuple[int, str]:
    """Run ``command`` (a script of the repository, with :class:`WaitForSignalAt` in its run), send
    it ``signum`` from outside once it is held, and return its exit status and output."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}  # as run_script
    process = subprocess.Popen([sys.executable, *command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signum)
    output = process.communicate(timeout=120)[0]
    return process.returncode, output


def hold_at(step: int, marker: Path) -> str:
    """A ``--trainer.callbacks`` value that holds training at ``step`` for a signal."""
    return json.dumps([{"class_path": "tests.helpers.signals.WaitForSignalAt",
                        "init_args": {"step": step, "marker": str(marker)}}])
