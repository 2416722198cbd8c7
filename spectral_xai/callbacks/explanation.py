"""Explaining validation boxes every few epochs and logging maps, AUCs and timings.

Each validation epoch (not the sanity check), rank zero explains the top detection of a fixed,
seeded set of validation images with every configured method, while other ranks wait. Scalars go
through ``pl_module.log`` (so every Lightning logger gets them); figures and the per-box table go
to W&B when a ``WandbLogger`` is present, and otherwise to ``<log_dir>/explanations/``.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.loggers import WandbLogger

from ..detection import Scoring
from ..evaluation import Explainer, choose_scenes
from ..reporting.figures import explanation_figure
from ..reporting.tables import BOX_FIELDS, box_row, method_scalars, spectrum_scalars, write_csv
from ..reporting.wandb_media import log_media

log = logging.getLogger(__name__)

COLUMNS = ["epoch", *BOX_FIELDS]
COUNTS = ("failures", "no_detection", "skipped_for_time")


class ExplanationCallback(pl.Callback):
    """Args:
        methods: registered method names (``gradcam``, ``gradcam_norelu``, ``rise``, ``sidu``).
        method_settings: per method, keyword arguments, e.g. ``{"rise": {"n_masks": 500}}``.
        scoring: the one rule by which every perturbation method and the metric score a detection
            (``{rule: matched, min_score: 0.05, min_iou: 0.5}`` by default, or ``{rule: drise}``).
        target_min_score: an image whose top detection scores lower is reported, not explained.
        num_images: validation scenes explained each time, chosen once with ``seed``; a mixed
            net trained on several spectra explains each chosen scene in every spectrum.
        every_n_epochs: explain after every n-th validation epoch.
        step: insertion/deletion step, a share of the image area.
        batch_size: images per forward pass of the perturbation methods and the metric.
        figure_inches: size of one panel in the logged figures.
        time_budget_s: stop explaining for this epoch once this many seconds have passed;
            the boxes left out are counted and logged.
    """

    def __init__(self, methods: Sequence[str] = ("gradcam", "rise", "sidu"), method_settings: dict[str, dict] | None = None,
                 scoring: Scoring | None = None, target_min_score: float = 0.05, num_images: int = 4,
                 every_n_epochs: int = 1, seed: int = 0, step: float = 0.05, batch_size: int = 32,
                 figure_inches: float = 2.6, time_budget_s: float | None = None):
        self.explainer = Explainer(methods, method_settings, scoring, step, batch_size, target_min_score)
        self.num_images, self.every_n_epochs, self.seed = num_images, every_n_epochs, seed
        self.figure_inches, self.time_budget_s = figure_inches, time_budget_s
        self.indices: list[int] | None = None
        self.totals: Counter = Counter()  # failures, no detection, skipped for time, over the run

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        if trainer.is_global_zero:
            # Validation runs under inference mode and maybe autocast; gradient methods need neither.
            try:
                with torch.inference_mode(False), torch.autocast(pl_module.device.type, enabled=False):
                    self._explain_epoch(trainer, pl_module)
            except Exception:  # explanations must never end a training run
                self.totals["failures"] += 1
                log.exception("epoch %d: explaining validation boxes failed", trainer.current_epoch)
        trainer.strategy.barrier("explanations")

    def _explain_epoch(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dataset = trainer.val_dataloaders.dataset
        if self.indices is None:
            self.indices = dataset.indices_of(choose_scenes([dataset.sample_ids], self.num_images, self.seed))
        detector = pl_module.detector()
        mean, std = self._normalisation(trainer)
        class_names = list(pl_module.hparams.class_names)
        epoch, start = trainer.current_epoch, time.perf_counter()
        counts, results, figures = Counter(), [], []
        for index in self.indices:
            if self.time_budget_s is not None and time.perf_counter() - start > self.time_budget_s:
                counts["skipped_for_time"] += 1
                continue
            sample = dataset[index]
            explained = self.explainer.explain(detector, sample, pl_module.device)
            if explained is None:
                counts["no_detection"] += 1
                log.warning("epoch %d: no detection scored >= %.2f in validation image %s (%s); not explained",
                            epoch, self.explainer.target_min_score, sample["sample_id"], sample["spectrum"])
                continue
            counts["failures"] += sum(not r.ok for r in explained.results)
            results += explained.results
            figure = explanation_figure(explained, class_names, mean, std, panel_inches=self.figure_inches)
            figures.append((f"{explained.sample_id}_{explained.spectrum}", figure))
        if counts["skipped_for_time"]:
            log.warning("epoch %d: time budget of %.0f s spent; %d image(s) not explained",
                        epoch, self.time_budget_s, counts["skipped_for_time"])
        self.totals.update(counts)
        scalars = {f"explain/{key}": float(counts[key]) for key in COUNTS}
        pl_module.log_dict({**scalars, **method_scalars(results, list(self.explainer.methods)),
                            **spectrum_scalars(results)}, rank_zero_only=True)
        self._log_media(trainer, [[epoch, *box_row(r, class_names)] for r in results], figures)

    @staticmethod
    def _normalisation(trainer: pl.Trainer) -> tuple[list[float], list[float]]:
        hparams = getattr(trainer.datamodule, "hparams", {})
        return list(hparams.get("mean", (0.0, 0.0, 0.0))), list(hparams.get("std", (1.0, 1.0, 1.0)))

    def _log_media(self, trainer: pl.Trainer, rows: list[list], figures: list[tuple[str, np.ndarray]]) -> None:
        wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        for logger in wandb_loggers:
            log_media(logger, figures, COLUMNS, rows, step=trainer.global_step)
        if wandb_loggers:
            return
        folder = Path(trainer.log_dir or trainer.default_root_dir) / "explanations" / f"epoch{trainer.current_epoch:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, figure in figures:
            Image.fromarray(figure).save(folder / f"{name}.png")
        write_csv(folder / "boxes.csv", COLUMNS, rows)
