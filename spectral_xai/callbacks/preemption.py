"""A preempted run that says so and can continue.

Clusters stop a job with SIGTERM (SLURM can send SIGUSR1 some time before). Lightning stops at the
next batch boundary on SIGTERM but then exits with status 0, which a scheduler reads as done, and
keeps only the last epoch's checkpoint. Here the stop saves a checkpoint of the step reached as
``last.ckpt`` and the process exits with 128 + the signal's number, so that ``train.py fit ...
--ckpt_path <checkpoints>/last.ckpt`` resubmitted continues where it stopped, in the same W&B run.
"""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Callable

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], None]


class Preemption(Callback):
    """Args:
        filename: the checkpoint written on a stop, in the run's checkpoint folder (``last``: the
            file every resumption, by hand or by reproduce.py, starts from)."""

    def __init__(self, filename: str = "last"):
        self.filename = filename
        self.signum: int | None = None
        self._restore: dict[int, Handler | int | None] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.signum = None
        done, planned = trainer.fit_loop.epoch_loop.batch_progress.current.completed, trainer.num_training_batches
        if 0 < done < planned:  # restored from a checkpoint saved mid-epoch
            log.warning("resumed in the middle of epoch %d after %d of %d batches: Lightning trains the remaining %d "
                        "batches of this epoch, drawn afresh from the shuffled training loader (a plain DataLoader "
                        "keeps no position), then the next epochs as planned", trainer.current_epoch, done, planned,
                        planned - done)
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only; nothing to install
        # Lightning's handler, registered just before training starts; Lightning's teardown puts the
        # one before it back, so only SIGUSR1 is ours to restore.
        lightning = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._noting(lightning))
        usr1 = getattr(signal, "SIGUSR1", None)
        # Under SLURM's auto-requeue Lightning handles SIGUSR1 itself (requeue and save); elsewhere a
        # SIGUSR1 is the scheduler's warning that SIGTERM follows, so it stops the run the same way.
        if usr1 is not None and signal.getsignal(usr1) in (signal.SIG_DFL, None):
            self._restore = {usr1: signal.getsignal(usr1)}
            signal.signal(usr1, self._noting(lightning))

    def _noting(self, lightning: Handler | int | None) -> Handler:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.signum = self.signum or signum
            if callable(lightning):
                lightning(signal.SIGTERM, frame)  # Lightning's stop at the next batch boundary
        return handler

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        signum = self.signum or signal.SIGTERM
        callback = trainer.checkpoint_callback
        folder = Path(callback.dirpath if callback is not None and callback.dirpath else
                      Path(trainer.default_root_dir) / "checkpoints")
        path = folder / f"{self.filename}.ckpt"
        trainer.save_checkpoint(path)
        exception.code = 128 + signum  # a stopped run is not a finished one
        if trainer.is_global_zero:
            log.warning("stopped by %s at epoch %d, step %d; saved %s. Resume with: train.py fit <same arguments> "
                        "--ckpt_path %s", signal.Signals(signum).name, trainer.current_epoch, trainer.global_step,
                        path, path)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum, handler in self._restore.items():
                if handler is not None:
                    signal.signal(signum, handler)
        self._restore = {}
