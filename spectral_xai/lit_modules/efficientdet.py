"""EfficientDet-D0 under Lightning: effdet's loss, torchmetrics mAP, optimiser and scheduler from config."""
from __future__ import annotations

from typing import Sequence

import pytorch_lightning as pl
import torch
from effdet import DetBenchTrain
from effdet.bench import _batch_detection, _post_process
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torchmetrics.detection import MeanAveragePrecision

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


def detections_to_preds(detections: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """effdet's [B, K, 6] (x1 y1 x2 y2 score class+1, zero rows padded) -> torchmetrics' dicts."""
    preds = []
    for det in detections:
        det = det[det[:, 4] > 0]
        preds.append({"boxes": det[:, :4], "scores": det[:, 4], "labels": det[:, 5].long() - 1})
    return preds


class EfficientDetModule(pl.LightningModule):
    """Hyper-parameters (model name, classes, image size, channels) are saved in the checkpoint so
    that ``spectral_xai.checkpoint`` rebuilds the network without the training config.

    Args:
        class_names: detector classes, in label order.
        image_size: square input side; anchors are fixed to it.
        in_chans: input channels (3, or 3 per stacked spectrum for early fusion).
        pretrained: start from effdet's COCO weights (needs network; offline raises a clear error).
        anchor_scale: effdet's anchor size multiplier (default 4); smaller suits small inputs.
        bn_momentum: batch-norm momentum (effdet default 0.01); higher suits short runs.
        optimizer, scheduler: callables from config (LightningCLI dependency injection); the
            scheduler steps once per epoch.
    """

    def __init__(
        self,
        class_names: Sequence[str] = ("bike", "car", "car_stop", "color_cone", "person"),
        image_size: int = 512,
        in_chans: int = 3,
        model_name: str = "tf_efficientdet_d0",
        pretrained: bool = False,
        anchor_scale: float | None = None,
        bn_momentum: float | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        model = build_efficientdet(model_name, len(class_names), image_size, in_chans, pretrained, anchor_scale, bn_momentum)
        self.bench = DetBenchTrain(model, create_labeler=True)
        self.val_map = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="faster_coco_eval")
        self.test_map = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="faster_coco_eval")

    @property
    def net(self) -> torch.nn.Module:
        """The bare EfficientDet: images -> (class logits, box regressions) per level P3..P7."""
        return self.bench.model

    def detect(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 100, 6] detections (x1 y1 x2 y2 score class+1) in input pixels, as DetBenchPredict."""
        class_out, box_out = self.net(images)
        class_pp, box_pp, indices, classes = _post_process(
            class_out, box_out, num_levels=self.bench.num_levels, num_classes=self.bench.num_classes,
            max_detection_points=self.bench.max_detection_points,
        )
        return _batch_detection(
            images.shape[0], class_pp, box_pp, self.bench.anchors.boxes, indices, classes,
            max_det_per_image=self.bench.max_det_per_image, soft_nms=self.bench.soft_nms,
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.detect(images)

    def _loss(self, batch: dict) -> dict[str, torch.Tensor]:
        targets = effdet_targets(batch["boxes"], batch["labels"], self.hparams.image_size)
        return self.bench(batch["image"], targets)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self._loss(batch)
        size = len(batch["boxes"])
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=size)
        self.log_dict({"train/class_loss": out["class_loss"], "train/box_loss": out["box_loss"]}, batch_size=size)
        return out["loss"]

    def _evaluate(self, batch: dict, metric: MeanAveragePrecision, prefix: str) -> None:
        out = self._loss(batch)
        self.log(f"{prefix}/loss", out["loss"], batch_size=len(batch["boxes"]), sync_dist=True)
        targets = [{"boxes": b, "labels": l} for b, l in zip(batch["boxes"], batch["labels"])]
        metric.update(detections_to_preds(out["detections"]), targets)

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
