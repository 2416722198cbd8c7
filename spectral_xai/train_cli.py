"""LightningCLI wiring shared by train.py: the data decide the model's input shape and classes, every
run writes its split of scenes, and a resumed fit continues its W&B run."""
from __future__ import annotations

import logging
import pydoc
from pathlib import Path
from typing import Any, Union

from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import WandbLogger

from .callbacks.preemption import Preemption
from .callbacks.run_record import RunRecord
from .checkpoint import read_checkpoint
from .data_modules.datamodule import input_channels
from .settings import check_writable, guard_yaml_configs

log = logging.getLogger(__name__)

#: ``--ckpt_path`` values that Lightning resolves itself to one of the run's own checkpoints.
LIGHTNING_CKPT_NAMES = ("last", "best", "hpc", "registry")
#: Trainer arguments where an int is a count of batches and a float a share of them. Python caches
#: ``Optional[Union[int, float]]`` as ``Union[float, int, None]`` once any module has spelt it that
#: way, and jsonargparse, trying float first, read ``--trainer.limit_val_batches 1`` as 1.0: every batch.
COUNT_OR_SHARE = ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches",
                  "overfit_batches", "val_check_interval")
#: Where a run writes (train.py's config keys), each checked writable before anything is built.
WRITTEN_FOLDERS = ("trainer.default_root_dir", "checkpoint.dirpath", "last_checkpoint.dirpath",
                   "trainer.logger.init_args.save_dir")


def log_progress() -> None:
    """The package's own progress lines (which scenes each rank explains, a resumed W&B run, a net
    reproduce.py skips) on stderr at INFO, without every library's INFO through the root logger."""
    package = logging.getLogger("spectral_xai")
    if not package.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)
    package.setLevel(logging.INFO)
    package.propagate = False  # libraries that configure the root logger would print each line twice


class SpectralCLI(LightningCLI):
    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        guard_yaml_configs()
        return super().init_parser(**kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for action in parser._actions:  # jsonargparse keeps each argument's type hint on its action
            if action.dest.removeprefix("trainer.") in COUNT_OR_SHARE and hasattr(action, "_typehint"):
                action._typehint = Union[int, float, None]
        # The network's input and classes follow the data: one place to set them.
        parser.link_arguments("data.image_size", "model.image_size")
        parser.link_arguments("data.class_names", "model.class_names")
        parser.link_arguments(("data.spectra", "data.fusion"), "model.in_chans", compute_fn=input_channels)
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # ModelCheckpoint's save_last writes last.ckpt only when the best one changes; resuming wants
        # the latest epoch whatever its mAP, so a second checkpoint keeps last.ckpt beside the best.
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.link_arguments("checkpoint.dirpath", "last_checkpoint.dirpath")
        parser.add_lightning_class_args(RunRecord, "run_record")  # split.json, the run's config record, best val/map
        parser.add_lightning_class_args(Preemption, "preemption")  # SIGTERM: save the step, exit 128 + 15
        parser.add_argument("--trust_checkpoint", type=bool, default=False,
                            help="load a --ckpt_path that reading it as data refuses: this runs any code stored in "
                                 "the file, so only for files from someone you trust")
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

    def _parse_ckpt_path(self) -> None:
        """The checkpoint to start from, read once as data before anything is built: a file that
        needs more is refused in one line (Lightning's own reading would end in a traceback), unless
        ``--trust_checkpoint``. Lightning's reading, which merges the file's model hyper-parameters
        into the config, follows for files read as data; a trusted file's are not merged (the run's
        config gives them)."""
        self.resumed_from: dict = {}
        subcommand = self.config.get("subcommand")
        config = self.config.get(subcommand) if subcommand else None
        ckpt_path = config.get("ckpt_path") if config else None
        if not ckpt_path or ckpt_path in LIGHTNING_CKPT_NAMES:
            return super()._parse_ckpt_path()
        trust = bool(config.get("trust_checkpoint")) or config.get("weights_only") is False
        self.resumed_from = read_checkpoint(ckpt_path, trust=trust, mmap=True)
        if trust:
            config["weights_only"] = False  # Lightning's own load must not refuse what the user trusts
            return
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        """Every folder the run writes checked before anything is built; a fit resumed from a
        checkpoint logs to the W&B run the checkpoint was written by."""
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        for key in WRITTEN_FOLDERS:
            folder = _get(config, key)
            if folder:
                check_writable(key, Path(folder))
        logger = config.get("trainer", {}).get("logger") if config else None
        if self.subcommand != "fit" or not self.resumed_from or not hasattr(logger, "class_path"):
            return
        if not issubclass(pydoc.locate(logger.class_path), WandbLogger) or logger.init_args.get("id"):
            return
        ckpt_path = config.get("ckpt_path")
        run_id = self.resumed_from.get("wandb_run_id")
        if run_id:
            logger.init_args["id"] = run_id
            log.info("resuming W&B run %s from %s", run_id, ckpt_path)



def _get(config: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        config = config.get(part) if hasattr(config, "get") else None
    return config

