"""train.py end to end: every config, a real offline W&B run, resuming, DDP on CPU."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from spectral_xai.checkpoint import CheckpointError, load_checkpoint

from .helpers.training import REPO, fit_ddp_subprocess, run_cli, tiny_args
from .helpers.wandb_records import finish_run, history

CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml") if not p.name.startswith("recipe_"))


def test_every_config_is_found():
    assert {"configs/demo.yaml", "configs/rgb_mir_early.yaml"} <= set(CONFIGS)
    assert {f"configs/paper/{n}.yaml" for n in ("rgb", "nir", "mir", "fir", "rgb_mir")} <= set(CONFIGS)


@pytest.mark.parametrize("config", CONFIGS)
def test_fast_dev_run_of_every_config(config, synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_cli(tiny_args(config, synthetic_root, tmp_path, "--trainer.fast_dev_run", "true"))
    assert cli.trainer.state.finished
    assert cli.model.hparams.in_chans == cli.datamodule.in_chans
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


@pytest.fixture(scope="module")
def trained_run(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_run")
    cwd = os.getcwd()
    os.chdir(out)
    try:
        cli = run_cli(tiny_args("configs/demo.yaml", synthetic_root, out, "--trainer.max_epochs", "2",
                                "--trainer.log_every_n_steps", "1",
                                "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2"))
        finish_run(cli.trainer.logger)
    finally:
        os.chdir(cwd)
    return cli, out


def test_fit_writes_checkpoints_metrics_and_an_offline_wandb_run(trained_run):
    cli, out = trained_run
    metrics = cli.trainer.callback_metrics
    assert {"train/loss", "val/map", "val/map_50", "val/loss"} <= set(metrics)
    # last.ckpt is the final epoch even when the best checkpoint is an earlier one.
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 1
    assert len(list((out / "checkpoints").glob("epoch*-map*.ckpt"))) == 1
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    rows = history(next(runs[0].glob("run-*.wandb")))
    for key in ("train/loss", "val/map", "val/map_50"):
        assert any(key in row for row in rows), key
    assert sorted(row["epoch"] for row in rows if "val/map" in row) == [0, 1]


def test_checkpoint_alone_rebuilds_detector_and_input_pipeline(trained_run):
    cli, out = trained_run
    module, datamodule = load_checkpoint(out / "checkpoints" / "last.ckpt")
    assert datamodule.spectra == ["mir"] and datamodule.hparams.image_size == 128
    assert module.hparams.class_names == ["bike", "car", "car_stop", "color_cone", "person"]
    assert module.hparams.anchor_scale == 2.0
    datamodule.setup("test")
    batch = next(iter(datamodule.test_dataloader()))
    cli.model.eval()
    with torch.no_grad():
        assert torch.equal(module.detect(batch["image"]), cli.model.cpu().detect(batch["image"]))


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.ckpt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.ckpt: not a readable checkpoint"):
        load_checkpoint(bad)


class EpochRecorder(Callback):
    def __init__(self):
        self.epochs = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs.append(trainer.current_epoch)


def test_resume_continues_at_the_next_epoch(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ("--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1")
    first = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "1", *common))
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["epoch"] == 0
    resumed = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "3", *common), run=False)
    recorder = EpochRecorder()
    resumed.trainer.callbacks.append(recorder)
    resumed.trainer.fit(resumed.model, resumed.datamodule, ckpt_path=str(last))
    assert recorder.epochs == [1, 2]
    assert resumed.trainer.global_step == 3 * first.trainer.global_step


@pytest.mark.slow
def test_two_process_ddp_on_cpu_creates_one_wandb_run(synthetic_root, tmp_path):
    fit_ddp_subprocess(synthetic_root, tmp_path)
    assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 1
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
