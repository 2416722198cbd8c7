"""The callback's explanations to each logger in its own form: to W&B a scene's figure under one key
per scene and the table with the maps in it (:mod:`~spectral_xai.reporting.wandb_media`); to
TensorBoard the figures as images with the table as CSV beside them (``<log_dir>/explanations/``);
without either, PNGs and the CSV there."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import pytorch_lightning as pl
from PIL import Image
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

from ..results import BoxResult
from .box_table import box_table, write_csv
from .media import SceneMedia
from .wandb_media import MAPS_KEY, log_media

log = logging.getLogger(__name__)


def log_explanations(trainer: pl.Trainer, class_names: Sequence[str], results: Sequence[BoxResult],
                     scenes: Sequence[SceneMedia]) -> int:
    """Each logger its images and table in its own form; returns how many of them failed (each
    logged with its traceback: a dashboard that fails must not cost the others, nor training)."""
    epoch = trainer.current_epoch
    columns, rows = box_table([(epoch, list(class_names), r) for r in results], first="epoch")
    by_scene = {(m.sample_id, m.spectrum): m for m in scenes}
    cells = [(by_scene[r.sample_id, r.spectrum], r.box, r.method) for r in results]
    wandb = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
    boards = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
    folder = _run_dir(trainer, boards) / "explanations" / f"epoch{epoch:03d}"
    writes = [(type(lg).__name__, lambda lg=lg: log_media(lg, scenes, columns, rows, cells, class_names,
                                                           step=trainer.global_step)) for lg in wandb]
    writes += [(type(lg).__name__, lambda lg=lg: _to_board(lg, scenes, trainer.global_step)) for lg in boards]
    if boards or not wandb:  # the table as CSV beside TensorBoard's images, or with the figures as PNGs
        writes.append((str(folder), lambda: _to_folder(folder, columns, rows, [] if boards else scenes)))
    failures = 0
    for where, write in writes:
        try:
            write()
        except Exception:
            failures += 1
            log.exception("epoch %d: logging the explanations' images and table to %s failed", epoch, where)
    return failures


def _to_board(logger: TensorBoardLogger, scenes: Sequence[SceneMedia], step: int) -> None:
    for scene in scenes:
        logger.experiment.add_image(f"{MAPS_KEY}/{scene.name}", scene.figure, step, dataformats="HWC")


def _to_folder(folder: Path, columns: Sequence[str], rows: Sequence[Sequence], scenes: Sequence[SceneMedia]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "boxes.csv", columns, rows)
    for scene in scenes:
        Image.fromarray(scene.figure).save(folder / f"{scene.name}.png")


def _run_dir(trainer: pl.Trainer, boards: Sequence[TensorBoardLogger]) -> Path:
    """TensorBoard's folder, else the first logger's with one, else the trainer's root. Not
    ``trainer.log_dir``: it broadcasts, and only rank zero is here, so under DDP it would hang."""
    folders = [lg.log_dir for lg in [*boards, *trainer.loggers] if getattr(lg, "log_dir", None)]
    return Path(folders[0] if folders else trainer.default_root_dir)
