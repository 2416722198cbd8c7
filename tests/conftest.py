import os
import shutil
from pathlib import Path

import pytest

from spectral_xai.data_modules.synthetic import write_synthetic_dataset

from .helpers.training import REPO

# W&B must never reach for a network in tests; runs are real offline runs on disk.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic dataset in the real layout, shared read-only by the tests."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "ir_det_dataset", num_scenes=24, seed=0)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    """A MIR detector trained briefly on synthetic data with the demo config (under a minute): the
    one trained net that every test needing one shares. Its recipe is pinned here (raw weights,
    AdamW at 0.004, 8 epochs), so that retuning the demo does not silently change what these tests see."""
    from spectral_xai.cli import SpectralCLI
    from spectral_xai.data_modules.datamodule import MultispectralDataModule
    from spectral_xai.lit_modules import EfficientDetModule

    out = tmp_path_factory.mktemp("trained")
    root = write_synthetic_dataset(out / "data", num_scenes=140, seed=0)
    SpectralCLI(EfficientDetModule, MultispectralDataModule, save_config_kwargs={"overwrite": True}, args=[
        "fit", "--config", str(REPO / "configs/demo.yaml"), "--data.root", str(root), "--data.num_workers", "0",
        "--trainer.max_epochs", "8", "--model.scheduler.init_args.milestones", "[6]", "--trainer.callbacks", "[]",
        "--model.ema_decay", "null", "--model.optimizer.init_args.lr", "0.004",
        "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
        "--trainer.default_root_dir", str(out), "--checkpoint.dirpath", str(out / "checkpoints"),
    ])
    return out / "checkpoints" / "last.ckpt"


@pytest.fixture
def dataset_copy(synthetic_root, tmp_path) -> Path:
    """A private copy of the synthetic dataset that a test may dirty."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "ir_det_dataset"))
