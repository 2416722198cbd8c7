"""Explaining validation boxes every few epochs and logging maps, AUCs and timings.

Each validation epoch (not the sanity check), the chosen detections of a fixed, seeded set of
validation scenes are explained with every configured method. Under DDP the scenes are shared out
over the ranks; each explains its share and draws its images, the shares are gathered, and rank
zero logs them once. Scalars go through ``pl_module.log`` (so every Lightning logger gets them),
with each method's stability: how much its maps of the same boxes moved since the previous
explained epoch. Images and the per-box table go to each logger in its own form: to W&B a scene's
figure under one key per scene (its step slider walks through the epochs) and a table with the
maps in it; to TensorBoard the figures as images with the table as CSV beside them
(``<log_dir>/explanations/``); without either, PNGs and the CSV there.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..distributed import gather, shard
from ..results import BoxResult
from ..explaining import Explainer
from ..explain_settings import ExplainSettings
from ..scenes import choose_scenes, explain_scenes
from ..metrics import stability
from ..reporting.media import DEFAULT_PIXELS, SceneMedia, scene_media
from ..reporting.logger_media import log_explanations
from ..reporting.comparisons import comparison_scalars
from ..reporting.spec import ImageSpec
from ..reporting.tables import result_scalars
from ..settings import Setting, check_settings
from ..analysis.contrasts import comparisons

log = logging.getLogger(__name__)

#: Per epoch: methods that failed, scenes with nothing to explain, scenes left for time, and how
#: many missed objects and false positives were explained (where ``targets`` asks for them).
KIND_COUNTS = {"missed": "missed/count", "false_positive": "false_positives/count"}
COUNTS = ("failures", "no_detection", "skipped_for_time")
SCHEDULE = {"num_images": Setting(int, low=1), "every_n_epochs": Setting(int, low=1), "seed": Setting(int, low=0),
            "figure_inches": Setting(float, low=0, open="low"), "time_budget_s": Setting(float, low=0),
            "media_pixels": Setting(int, low=32)}
#: Side of the copy of each map kept for the next epoch's stability: memory stays a few MB for any
#: image size, and a rank correlation over 64 x 64 cells follows the full map's closely.
STABILITY_PIXELS = 64


@dataclass
class Share:
    """What one rank explained in one epoch: results in host memory, the images of each scene."""

    counts: Counter = field(default_factory=Counter)
    results: list[BoxResult] = field(default_factory=list)
    scenes: list[SceneMedia] = field(default_factory=list)


class ExplanationCallback(pl.Callback):
    """Every setting is checked when the callback is made (and a method's ``layer`` against the net
    at setup), so that a mistake stops the run before its first training step, not at the first
    explained epoch.

    Args:
        settings: how detections are explained and scored (methods and their settings, the scoring
            rule, which boxes, step, batch size, precision): an
            :class:`~spectral_xai.explain_settings.ExplainSettings` (a config gives its fields as a mapping).
        num_images: validation scenes explained each time, chosen once with ``seed``; a mixed
            net trained on several spectra explains each chosen scene in every spectrum. Under
            DDP each rank explains its share of them.
        every_n_epochs: explain after every n-th validation epoch.
        figure_inches: size of one panel in the logged figures.
        time_budget_s: stop explaining for this epoch once this many seconds have passed;
            the boxes left out are counted and logged (under DDP, per rank).
        media_pixels: the longest side of each image in the W&B table and of each panel of a
            logged figure; larger images are shrunk to it. At 256 one explained epoch of the paper's
            config (16 scenes, 6 methods with the baselines, 512 px) adds under 5 MB to a W&B run
            (README, the table under "What each logger gets").
    """

    def __init__(self, settings: ExplainSettings | None = None, num_images: int = 4, every_n_epochs: int = 1,
                 seed: int = 0, figure_inches: float = 2.6, time_budget_s: float | None = None,
                 media_pixels: int = DEFAULT_PIXELS):
        if isinstance(settings, Mapping):  # built in code from a config's mapping
            settings = ExplainSettings(**settings)
        self.explainer = Explainer(settings or ExplainSettings())
        schedule = {"num_images": num_images, "every_n_epochs": every_n_epochs, "seed": seed,
                    "figure_inches": figure_inches, "media_pixels": media_pixels,
                    **({"time_budget_s": time_budget_s} if time_budget_s is not None else {})}
        check_settings("ExplanationCallback", schedule, SCHEDULE)
        self.num_images, self.every_n_epochs, self.seed = num_images, every_n_epochs, seed
        self.figure_inches, self.time_budget_s, self.media_pixels = figure_inches, time_budget_s, media_pixels
        self.scenes: list[str] | None = None
        self.previous_maps: dict[tuple, torch.Tensor] = {}  # the last explained epoch's maps, for stability
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
        detector = self.explainer.prepared(pl_module.detector())
        spec = ImageSpec(pl_module.hparams.class_names, *self._normalisation(trainer))
        epoch, share = trainer.current_epoch, Share()
        for _, explained in explain_scenes(self.explainer, detector, dataset, scenes, pl_module.device,
                                           f"epoch {epoch}: validation", share.counts, self.time_budget_s):
            share.counts.update({KIND_COUNTS[kind]: n for kind, n in explained.counts().items() if kind != "detection"})
            if explained.targets:
                share.counts["failures"] += sum(not r.ok for r in explained.results)
                share.results += [r.cpu() for r in explained.results]
                share.scenes.append(scene_media(explained.cpu(), spec, self.media_pixels, self.figure_inches))
        if share.counts["skipped_for_time"]:
            log.warning("epoch %d: time budget of %.0f s spent; %d image(s) not explained on rank %d",
                        epoch, self.time_budget_s, share.counts["skipped_for_time"], trainer.global_rank)
        log.info("epoch %d: rank %d of %d explained scenes %s", epoch, trainer.global_rank, trainer.world_size,
                 ", ".join(scenes))
        return share

    def _log_epoch(self, trainer: pl.Trainer, pl_module: pl.LightningModule, shares: Sequence[Share]) -> None:
        """Rank zero logs every rank's share once, rows and images in scene order. A logger that
        fails on the images is logged and counted as a failure; the scalars still go out."""
        counts = sum((s.counts for s in shares), Counter())
        results = sorted((r for s in shares for r in s.results), key=lambda r: (r.sample_id, r.spectrum, r.box))
        scenes = sorted((m for s in shares for m in s.scenes), key=lambda m: m.name)
        counts["failures"] += log_explanations(trainer, list(pl_module.hparams.class_names), results, scenes)
        self.totals.update(counts)
        kinds = [KIND_COUNTS[kind] for kind in self.explainer.settings.targets if kind in KIND_COUNTS]
        scalars = {f"explain/{key}": float(counts[key]) for key in (*COUNTS, *kinds)}
        settings = self.explainer.settings
        compared = comparisons({("net", "epoch", "detection"): [r for r in results if r.target.kind == "detection"]},
                               list(self.explainer.names), settings.primary, settings.inference, spectra=False)
        pl_module.log_dict({**scalars, **result_scalars(results, list(self.explainer.names)),
                            **comparison_scalars(compared), **self._stability(results)}, rank_zero_only=True)

    @property
    def state_key(self) -> str:
        """One per differently configured callback, so that a run with several keeps each one's state."""
        settings = self.explainer.settings
        return self._generate_state_key(methods=settings.methods, targets=settings.targets, boxes=settings.boxes,
                                        target_min_score=settings.target_min_score, num_images=self.num_images,
                                        every_n_epochs=self.every_n_epochs, seed=self.seed, time_budget_s=self.time_budget_s)

    def state_dict(self) -> dict[str, Any]:
        """The last explained epoch's (shrunk) maps, kept in checkpoints so that the stability of the
        first epoch after a resume is measured against them."""
        return {"previous_maps": [[list(box), method, saliency] for (box, method), saliency in self.previous_maps.items()]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.previous_maps = {(tuple(box), method): saliency for box, method, saliency in state_dict.get("previous_maps", [])}

    def _stability(self, results: Sequence[BoxResult]) -> dict[str, float]:
        """``explain/<method>/stability``: each explained detection's map against its map at the
        previous explained epoch (the same scene, spectrum and rank of box), from the second on."""
        current = {((r.sample_id, r.spectrum, r.box), r.method): _shrunk(r.saliency) for r in results
                   if r.target.kind == "detection" and r.scored}
        moved = stability(self.previous_maps, current)
        self.previous_maps = current
        return {f"explain/{method}/stability": value for method, value in moved.items()}

    @staticmethod
    def _normalisation(trainer: pl.Trainer) -> tuple[list[float], list[float]]:
        hparams = getattr(trainer.datamodule, "hparams", {})
        return list(hparams.get("mean", (0.0, 0.0, 0.0))), list(hparams.get("std", (1.0, 1.0, 1.0)))


def _shrunk(saliency: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(saliency[None, None].float(), STABILITY_PIXELS)[0, 0]
