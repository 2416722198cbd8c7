"""LightningCLI wiring shared by train.py: the data settings decide the model's input shape."""
from __future__ import annotations

from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from .data_modules.datamodule import input_channels


class SpectralCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The network's input follows the data: one place to set image size, spectra and fusion.
        parser.link_arguments("data.image_size", "model.image_size")
        parser.link_arguments(("data.spectra", "data.fusion"), "model.in_chans", compute_fn=input_channels)
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # ModelCheckpoint's save_last writes last.ckpt only when the best one changes; resuming wants
        # the latest epoch whatever its mAP, so a second checkpoint keeps last.ckpt beside the best.
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.link_arguments("checkpoint.dirpath", "last_checkpoint.dirpath")
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
