"""Explaining validation boxes every few epochs and logging maps, AUCs and timings.

Each validation epoch (not the sanity check), the chosen detections of a fixed, seeded set of
validation scenes are explained with every configured method. Under DDP the scenes are shared out
over the ranks; each explains its share and draws its figures, the shares are gathered, and rank
zero logs them once. Scalars go through ``pl_module.log`` (so every Lightning logger gets them);
figures and the per-box table go to W&B when a ``WandbLogger`` is present, and otherwise to
``<log_dir>/explanations/``.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.loggers import WandbLogger

from ..distributed import gather, shard
from ..evaluation import BoxResult, Explainer, ExplainSettings, choose_scenes
from ..reporting.figures import explanation_figure
from ..reporting.tables import BOX_FIELDS, box_row, method_scalars, spectrum_scalars, write_csv
from ..reporting.wandb_media import log_media
from ..settings import Setting, check_settings
from ..statistics import compare_methods, comparison_scalars

log = logging.getLogger(__name__)

COLUMNS = ["epoch", *BOX_FIELDS]
#: Per epoch: methods that failed, scenes with nothing to explain, scenes left for time, and how
#: many missed objects and false positives were explained (where ``targets`` asks for them).
KIND_COUNTS = {"missed": "missed/count", "false_positive": "false_positives/count"}
COUNTS = ("failures", "no_detection", "skipped_for_time")
SCHEDULE = {"num_images": Setting(int, low=1), "every_n_epochs": Setting(int, low=1), "seed": Setting(int, low=0),
            "figure_inches": Setting(float, low=0, open="low"), "time_budget_s": Setting(float, low=0)}


@dataclass
class Share:
    """What one rank explained in one epoch: results in host memory, one figure per scene."""

    counts: Counter = field(default_factory=Counter)
    results: list[BoxResult] = field(default_factory=list)
    figures: list[tuple[str, np.ndarray]] = field(default_factory=list)


class ExplanationCallback(pl.Callback):
    """Every setting is checked when the callback is made (and a method's ``layer`` against the net
    at setup), so that a mistake stops the run before its first training step, not at the first
    explained epoch.

    Args:
        settings: how detections are explained and scored (methods and their settings, the scoring
            rule, which boxes, step, batch size, precision): an
            :class:`~spectral_xai.evaluation.ExplainSettings` (a config gives its fields as a mapping).
        num_images: validation scenes explained each time, chosen once with ``seed``; a mixed
            net trained on several spectra explains each chosen scene in every spectrum. Under
            DDP each rank explains its share of them.
        every_n_epochs: explain after every n-th validation epoch.
        figure_inches: size of one panel in the logged figures.
        time_budget_s: stop explaining for this epoch once this many seconds have passed;
            the boxes left out are counted and logged (under DDP, per rank).
    """

    def __init__(self, settings: ExplainSettings | None = None, num_images: int = 4, every_n_epochs: int = 1,
                 seed: int = 0, figure_inches: float = 2.6, time_budget_s: float | None = None):
        if isinstance(settings, Mapping):  # built in code from a config's mapping
            settings = ExplainSettings(**settings)
        self.explainer = Explainer(settings or ExplainSettings())
        schedule = {"num_images": num_images, "every_n_epochs": every_n_epochs, "seed": seed,
                    "figure_inches": figure_inches, **({"time_budget_s": time_budget_s} if time_budget_s is not None else {})}
        check_settings("ExplanationCallback", schedule, SCHEDULE)
        self.num_images, self.every_n_epochs, self.seed = num_images, every_n_epochs, seed
        self.figure_inches, self.time_budget_s = figure_inches, time_budget_s
        self.scenes: list[str] | None = None
        self.totals: Counter = Counter()  # failures, no detection, skipped for time, over the run

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.explainer.check_net(pl_module.detector().net)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        # Validation runs under inference mode and maybe autocast; gradient methods need neither.
        try:
            with torch.inference_mode(False), torch.autocast(pl_module.device.type, enabled=False):
                share = self._explain_share(trainer, pl_module)
        except Exception:  # explanations must never end a training run
            share = Share(Counter(failures=1))
            log.exception("epoch %d: explaining validation boxes failed on rank %d", trainer.current_epoch,
                          trainer.global_rank)
        shares = gather(share)  # every rank reaches this, whatever happened above
        if trainer.is_global_zero:
            try:
                self._log_epoch(trainer, pl_module, shares)
            except Exception:
                log.exception("epoch %d: logging the explanations failed", trainer.current_epoch)

    def _explain_share(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Share:
        """This rank's share of the chosen scenes, explained within the time budget."""
        dataset = trainer.val_dataloaders.dataset
        if self.scenes is None:
            self.scenes = choose_scenes([dataset.sample_ids], self.num_images, self.seed)
        scenes = shard(self.scenes)
        detector = pl_module.detector()
        mean, std = self._normalisation(trainer)
        class_names = list(pl_module.hparams.class_names)
        epoch, start, share = trainer.current_epoch, time.perf_counter(), Share()
        for index in dataset.indices_of(scenes):
            if self.time_budget_s is not None and time.perf_counter() - start > self.time_budget_s:
                share.counts["skipped_for_time"] += 1
                continue
            sample = dataset[index]
            explained = self.explainer.explain(detector, sample, pl_module.device)
            share.counts.update({KIND_COUNTS[kind]: n for kind, n in explained.counts().items() if kind != "detection"})
            if not explained.targets:
                share.counts["no_detection"] += 1
                log.warning("epoch %d: nothing to explain in validation image %s (%s): no target of kinds %s "
                            "(detections scoring >= %.2f); not explained", epoch, sample["sample_id"], sample["spectrum"],
                            ", ".join(self.explainer.settings.targets), self.explainer.target_min_score)
                continue
            share.counts["failures"] += sum(not r.ok for r in explained.results)
            share.results += [r.cpu() for r in explained.results]
            figure = explanation_figure(explained, class_names, mean, std, panel_inches=self.figure_inches)
            share.figures.append((f"{explained.sample_id}_{explained.spectrum}", figure))
        if share.counts["skipped_for_time"]:
            log.warning("epoch %d: time budget of %.0f s spent; %d image(s) not explained on rank %d",
                        epoch, self.time_budget_s, share.counts["skipped_for_time"], trainer.global_rank)
        log.info("epoch %d: rank %d of %d explained scenes %s", epoch, trainer.global_rank, trainer.world_size,
                 ", ".join(scenes))
        return share

    def _log_epoch(self, trainer: pl.Trainer, pl_module: pl.LightningModule, shares: Sequence[Share]) -> None:
        """Rank zero logs every rank's share once, rows and figures in scene order."""
        counts = sum((s.counts for s in shares), Counter())
        results = sorted((r for s in shares for r in s.results), key=lambda r: (r.sample_id, r.spectrum, r.box))
        figures = sorted((f for s in shares for f in s.figures), key=lambda f: f[0])
        self.totals.update(counts)
        kinds = [KIND_COUNTS[kind] for kind in self.explainer.settings.targets if kind in KIND_COUNTS]
        scalars = {f"explain/{key}": float(counts[key]) for key in (*COUNTS, *kinds)}
        settings = self.explainer.settings
        compared = compare_methods({("net", "epoch", "detection"): [r for r in results if r.target.kind == "detection"]},
                                   list(self.explainer.methods), settings.bootstrap_resamples, settings.bootstrap_seed)
        pl_module.log_dict({**scalars, **method_scalars(results, list(self.explainer.methods)),
                            **spectrum_scalars(results), **comparison_scalars(compared)}, rank_zero_only=True)
        class_names = list(pl_module.hparams.class_names)
        self._log_media(trainer, [[trainer.current_epoch, *box_row(r, class_names)] for r in results], figures)

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
