"""EfficientDet-D0 under Lightning: effdet's loss, torchmetrics mAP, optimiser and scheduler from config."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pytorch_lightning as pl
import torch
from effdet import DetBenchTrain
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from pytorch_lightning.loggers import WandbLogger
from timm.utils import ModelEmaV3
from torchmetrics.detection import MeanAveragePrecision

from ..detection import Detections, EffdetDetector
from ..detection.detector import Raw
from ..settings import check_image_size
from .detector import build_efficientdet


def effdet_targets(boxes: Sequence[torch.Tensor], labels: Sequence[torch.Tensor], image_size: int) -> dict[str, torch.Tensor]:
    """Our per-image x1y1x2y2 boxes and 0-based labels -> effdet's padded yxyx / 1-based targets."""
    n = max(1, max(len(b) for b in boxes))
    device = boxes[0].device
    bbox = torch.full((len(boxes), n, 4), -1.0, device=device)
    cls = torch.full((len(boxes), n), -1.0, device=device)
    for i, (b, l) in enumerate(zip(boxes, labels)):
        bbox[i, : len(b)] = b[:, [1, 0, 3, 2]]
        cls[i, : len(l)] = l.float() + 1
    batch = len(boxes)
    return {
        "bbox": bbox,
        "cls": cls,
        "img_scale": torch.ones(batch, device=device),
        "img_size": torch.tensor([[image_size, image_size]] * batch, dtype=torch.float32, device=device),
    }


def detections_to_preds(detections: Detections) -> list[dict[str, torch.Tensor]]:
    """Our detections -> torchmetrics' per-image dicts (padding rows dropped)."""
    kept = detections.labels >= 0
    return [{"boxes": detections.boxes[i][kept[i]], "scores": detections.scores[i][kept[i]],
             "labels": detections.labels[i][kept[i]]} for i in range(len(kept))]


class TrainingDiverged(RuntimeError):
    """The loss or the weights became non-finite: training stopped before anything was saved."""


class EfficientDetModule(pl.LightningModule):
    """Hyper-parameters (model name, classes, image size, channels) are saved in the checkpoint so
    that ``spectral_xai.checkpoint`` rebuilds the network without the training config.

    Args:
        class_names: detector classes, in label order; train.py links them from the data.
        image_size: square input side; anchors are fixed to it.
        in_chans: input channels (3, or 3 per stacked spectrum for early fusion).
        pretrained: start from effdet's COCO weights (needs network; offline raises a clear error).
        anchor_scale: effdet's anchor size multiplier (default 4); smaller suits small inputs.
        bn_momentum: batch-norm momentum (effdet default 0.01); higher suits short runs.
        ema_decay: keep an exponential moving average of the weights (timm's ``ModelEmaV3``, as in
            effdet's own training recipe) with this decay; validation, test, ``detect`` and the
            explainers then use the averaged weights, and the checkpoint holds both. The decay warms
            up (``1 - (1 + step)^(-2/3)``, capped at ``ema_decay``) so that the random initial
            weights of a from-scratch run do not linger in the average. None: no average.
        channels_last: keep the conv weights, and lay every input out, in ``torch.channels_last``:
            the same maths, in a layout whose convolutions run faster (on a 2-core CPU about
            0.6x the time of a training step and of a forward pass; the usual advice on GPUs).
            Outputs agree with the default layout's to about 1e-5, not bit for bit, so a net trained
            either way is reproducible only in its own layout.
        optimizer, scheduler: callables from config (LightningCLI dependency injection); the
            scheduler steps once per epoch.
    """

    def __init__(
        self,
        class_names: Sequence[str],
        image_size: int = 512,
        in_chans: int = 3,
        model_name: str = "tf_efficientdet_d0",
        pretrained: bool = False,
        anchor_scale: float | None = None,
        bn_momentum: float | None = None,
        ema_decay: float | None = None,
        channels_last: bool = False,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__()
        check_image_size("model", image_size)  # effdet's anchors would divide by zero, or fail in a traceback
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        model = build_efficientdet(model_name, len(class_names), image_size, in_chans, pretrained, anchor_scale, bn_momentum)
        # The bench holds the anchors, the anchor labeler and effdet's loss; its own forward is not
        # used, so that every detection comes from the one decoder (spectral_xai.detection).
        self.bench = DetBenchTrain(model, create_labeler=True)
        self.ema = None
        if ema_decay is not None:
            self.ema = ModelEmaV3(model, decay=ema_decay, use_warmup=True)
            self.ema.requires_grad_(False)  # DDP must not wait for gradients of the average
        self.memory_format = torch.contiguous_format
        if channels_last:
            self.use_channels_last()
        self.val_map = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="faster_coco_eval")
        self.test_map = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="faster_coco_eval")

    @property
    def net(self) -> torch.nn.Module:
        """The trained EfficientDet: images -> (class logits, box regressions) per level P3..P7."""
        return self.bench.model

    @property
    def eval_net(self) -> torch.nn.Module:
        """The network that is evaluated and explained: the weight average where there is one."""
        return self.ema.module if self.ema is not None else self.bench.model

    def use_channels_last(self) -> "EfficientDetModule":
        """The nets' conv weights (and from now on every input) in ``torch.channels_last``: what
        explain.py does to a checkpoint before its perturbation passes, whatever layout it was
        trained in. Call it before an optimiser exists: the optimiser's state keeps the old layout."""
        self.memory_format = torch.channels_last
        self.bench.model.to(memory_format=self.memory_format)
        if self.ema is not None:
            self.ema.module.to(memory_format=self.memory_format)
        return self

    def detector(self) -> EffdetDetector:
        """The evaluated network as a traced detector (shares its weights)."""
        bench, size = self.bench, self.hparams.image_size
        return EffdetDetector(self.eval_net, bench.anchors.boxes, bench.num_classes, bench.max_detection_points,
                              bench.max_det_per_image, image_size=(size, size), memory_format=self.memory_format)

    def detect(self, images: torch.Tensor) -> Detections:
        """Detections (0-based labels, input pixels) of the evaluated network."""
        return self.detector()(images)

    def forward(self, images: torch.Tensor) -> Detections:
        return self.detect(images)

    def _loss(self, net: torch.nn.Module, batch: dict) -> tuple[dict[str, torch.Tensor], Raw]:
        targets = effdet_targets(batch["boxes"], batch["labels"], self.hparams.image_size)
        class_out, box_out = net(batch["image"].contiguous(memory_format=self.memory_format))
        cls_targets, box_targets, positives = self.bench.anchor_labeler.batch_label_anchors(targets["bbox"], targets["cls"])
        loss, class_loss, box_loss = self.bench.loss_fn(class_out, box_out, cls_targets, box_targets, positives)
        return {"loss": loss, "class_loss": class_loss, "box_loss": box_loss}, (list(class_out), list(box_out))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out, _ = self._loss(self.net, batch)
        if not torch.isfinite(out["loss"]):
            self._diverged(f"the training loss is {out['loss'].item()}")
        size = len(batch["boxes"])
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=size)
        self.log_dict({"train/class_loss": out["class_loss"], "train/box_loss": out["box_loss"]}, batch_size=size)
        return out["loss"]

    def on_train_batch_end(self, outputs, batch: dict, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self.net, step=self.global_step)

    def _diverged(self, what: str) -> None:
        saved = [Path(c.last_model_path or c.best_model_path) for c in self.trainer.checkpoint_callbacks
                 if getattr(c, "last_model_path", "") or getattr(c, "best_model_path", "")]
        last_good = max((p for p in saved if p.is_file()), key=lambda p: p.stat().st_mtime, default=None)
        raise TrainingDiverged(f"training diverged at epoch {self.current_epoch}, step {self.global_step}: {what}; "
                               f"last good checkpoint: {last_good or 'none was written'}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        broken = [name for name, tensor in checkpoint["state_dict"].items()
                  if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
        if broken:
            self._diverged(f"{len(broken)} weight tensors are non-finite (e.g. {broken[0]}); this checkpoint is not written")
        # Resuming from this checkpoint continues the same W&B run (see SpectralCLI).
        for logger in self.loggers:
            if isinstance(logger, WandbLogger) and logger.version:
                checkpoint["wandb_run_id"] = logger.version

    def _evaluate(self, batch: dict, metric: MeanAveragePrecision, prefix: str) -> None:
        out, raw = self._loss(self.eval_net, batch)
        self.log(f"{prefix}/loss", out["loss"], batch_size=len(batch["boxes"]), sync_dist=True)
        targets = [{"boxes": b, "labels": l} for b, l in zip(batch["boxes"], batch["labels"])]
        metric.update(detections_to_preds(self.detector().decode(raw)), targets)

    def _log_map(self, metric: MeanAveragePrecision, prefix: str) -> None:
        result = metric.compute()
        self.log_dict({f"{prefix}/map": result["map"], f"{prefix}/map_50": result["map_50"],
                       f"{prefix}/map_75": result["map_75"]}, prog_bar=prefix == "val")
        metric.reset()

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.val_map, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_map(self.val_map, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.test_map, "test")

    def on_test_epoch_end(self) -> None:
        self._log_map(self.test_map, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict[str, torch.Tensor]]:
        return detections_to_preds(self.detect(batch["image"]))

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "epoch"}}
