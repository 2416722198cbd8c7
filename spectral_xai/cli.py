"""LightningCLI wiring shared by train.py: the data decide the model's input shape and classes, every
run writes its split of scenes, and a resumed fit continues its W&B run."""
from __future__ import annotations

import logging
import pydoc

import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import WandbLogger

from .callbacks.split_record import SplitRecord
from .data_modules.datamodule import input_channels

log = logging.getLogger(__name__)


class SpectralCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The network's input and classes follow the data: one place to set them.
        parser.link_arguments("data.image_size", "model.image_size")
        parser.link_arguments("data.class_names", "model.class_names")
        parser.link_arguments(("data.spectra", "data.fusion"), "model.in_chans", compute_fn=input_channels)
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # ModelCheckpoint's save_last writes last.ckpt only when the best one changes; resuming wants
        # the latest epoch whatever its mAP, so a second checkpoint keeps last.ckpt beside the best.
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.link_arguments("checkpoint.dirpath", "last_checkpoint.dirpath")
        parser.add_lightning_class_args(SplitRecord, "split_record")  # split.json beside the checkpoints
        parser.set_defaults({
            "checkpoint.monitor": "val/map",
            "checkpoint.mode": "max",
            "last_checkpoint.filename": "last",
            "last_checkpoint.save_top_k": 1,
            "last_checkpoint.enable_version_counter": False,
            "checkpoint.filename": "epoch{epoch:03d}-map{val/map:.3f}",
            "checkpoint.auto_insert_metric_name": False,
            "trainer.logger": {
                "class_path": "spectral_xai.loggers.AutoWandbLogger",
                "init_args": {"project": "spectral-xai", "save_dir": "runs"},
            },
        })

    def before_instantiate_classes(self) -> None:
        """A fit resumed from a checkpoint logs to the W&B run the checkpoint was written by."""
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        ckpt_path = config.get("ckpt_path") if config else None
        logger = config.get("trainer", {}).get("logger") if config else None
        if self.subcommand != "fit" or not ckpt_path or not hasattr(logger, "class_path"):
            return
        if not issubclass(pydoc.locate(logger.class_path), WandbLogger) or logger.init_args.get("id"):
            return
        run_id = torch.load(ckpt_path, map_location="cpu", weights_only=False, mmap=True).get("wandb_run_id")
        if run_id:
            logger.init_args["id"] = run_id
            log.info("resuming W&B run %s from %s", run_id, ckpt_path)

