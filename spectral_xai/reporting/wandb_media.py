"""Figures and per-box tables to a W&B logger, under the same keys from the training callback and
from explain.py, so that dashboards line up."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from pytorch_lightning.loggers import WandbLogger

MAPS_KEY, BOXES_KEY = "explain/maps", "explain/boxes"


def log_media(logger: WandbLogger, figures: Sequence[tuple[str, np.ndarray]], columns: Sequence[str],
              rows: Sequence[Sequence], step: int | None = None) -> None:
    """One image per explained box (captioned with its name) under ``explain/maps`` and one row per
    (box, method) in the table ``explain/boxes``."""
    if figures:
        logger.log_image(MAPS_KEY, [f for _, f in figures], step=step, caption=[name for name, _ in figures])
    logger.log_table(BOXES_KEY, columns=list(columns), data=[list(r) for r in rows], step=step)
