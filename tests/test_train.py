"""train.py end to end: every config, a real offline W&B run, resuming, splits (DDP on CPU: tests/callbacks)."""
import itertools
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from spectral_xai.callbacks import ExplanationCallback
from spectral_xai.checkpoint import CheckpointError, load_checkpoint
from spectral_xai.data_modules import MultispectralDataModule, layout
from spectral_xai.lit_modules import TrainingDiverged
from spectral_xai.settings import user_error_in

from .helpers.hostile import RunsCode
from .helpers.signals import hold_at, signal_when_held
from .helpers.training import REPO, run_cli, tiny_args, train_py
from spectral_xai.wandb_records import finish_run, history

CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml") if not p.name.startswith(("recipe_", "reproduce_")))


def test_every_config_is_found():
    assert {"configs/demo.yaml", "configs/rgb_mir_early.yaml"} <= set(CONFIGS)
    assert {f"configs/paper/{n}.yaml" for n in ("rgb", "nir", "mir", "fir", "rgb_mir")} <= set(CONFIGS)


@pytest.mark.parametrize("config", CONFIGS)
def test_fast_dev_run_of_every_config(config, synthetic_root, tmp_path, monkeypatch):
    """The loops of every config; the paper's explanation settings (hours on CPU) are checked below."""
    monkeypatch.chdir(tmp_path)
    cli = run_cli(tiny_args(config, synthetic_root, tmp_path, "--trainer.fast_dev_run", "true",
                            *(["--trainer.callbacks", "[]"] if "paper" in config or "early" in config else [])))
    assert cli.trainer.state.finished
    assert cli.model.hparams.in_chans == cli.datamodule.in_chans
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


PAPER_RUNS = [c for c in CONFIGS if c.startswith("configs/paper/") or c == "configs/rgb_mir_early.yaml"]


@pytest.mark.parametrize("config", PAPER_RUNS)
def test_the_papers_runs_explain_every_epoch_with_the_papers_settings(config, synthetic_root, tmp_path, capsys):
    cli = run_cli(tiny_args(config, synthetic_root, tmp_path), run=False)
    (callback,) = [c for c in cli.trainer.callbacks if isinstance(c, ExplanationCallback)]
    assert list(callback.explainer.methods) == ["gradcam", "gradcam_norelu", "rise", "sidu", "random", "box"]
    rise = callback.explainer.methods["rise"]
    assert (rise.n_masks, rise.grid, rise.p) == (500, 8, 0.1)
    assert (callback.num_images, callback.every_n_epochs, callback.explainer.step) == (16, 1, 0.05)
    assert callback.time_budget_s == 600
    with pytest.raises(SystemExit):
        run_cli(["--config", str(REPO / config), "--print_config"])
    printed = capsys.readouterr().out
    assert "spectral_xai.callbacks.ExplanationCallback" in printed and "n_masks: 500" in printed


@pytest.fixture(scope="module")
def trained_run(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_run")
    cwd = os.getcwd()
    os.chdir(out)
    try:
        cli = run_cli(tiny_args("configs/demo.yaml", synthetic_root, out, "--trainer.max_epochs", "2", "--model.ema_decay", "0.98",
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
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
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
        ours, theirs = module.detect(batch["image"]), cli.model.cpu().detect(batch["image"])
    for field in ("boxes", "scores", "labels", "anchors", "class_probs"):
        assert torch.equal(getattr(ours, field), getattr(theirs, field)), field
    # The checkpoint carries the split of scenes, and split.json lists the ids the run used.
    assert datamodule.split == cli.datamodule.split
    assert json.loads((out / "checkpoints" / "split.json").read_text()) == cli.datamodule.parts
    assert datamodule.parts["test"] == cli.datamodule.parts["test"]
    _, as_rgb = load_checkpoint(out / "checkpoints" / "last.ckpt", spectra=["rgb"])  # the MIR net on RGB images
    as_rgb.setup("test")
    assert as_rgb.parts == cli.datamodule.parts
    # With a weight average, it is validated and the checkpoint restores it beside the raw weights.
    assert module.ema is not None and module.eval_net is module.ema.module
    assert not torch.equal(module.net.backbone.conv_stem.weight, module.eval_net.backbone.conv_stem.weight)


def test_every_spectrum_and_fusion_trains_on_one_split_of_scenes(dataset_copy, tmp_path):
    """One NIR image missing, one MIR image unreadable: the runs' test parts differ by exactly those
    ids, and no run trains on a scene that another run tests on."""
    scenes = MultispectralDataModule(str(dataset_copy), ["rgb"], image_size=128, val_fraction=0.2)
    scenes.setup()
    nir_missing, mir_broken = scenes.split["test"][:2]
    layout.image_path(dataset_copy, layout.CONVERTED_IMAGES, "nir", nir_missing).unlink()
    layout.image_path(dataset_copy, layout.CONVERTED_IMAGES, "mir", mir_broken).write_bytes(b"not a png")
    lacking = {"rgb": set(), "nir": {nir_missing}, "mir": {mir_broken}, "fir": set(), "rgb_mir": {mir_broken}}
    used = {}
    for name in lacking:
        spectra = "[rgb, mir]" if name == "rgb_mir" else f"[{name}]"
        run_cli(tiny_args("configs/demo.yaml", dataset_copy, tmp_path / name, "--data.spectra", spectra,
                          "--trainer.fast_dev_run", "true", "--trainer.callbacks", "[]", "--trainer.logger", "false"))
        used[name] = json.loads((tmp_path / name / "checkpoints" / "split.json").read_text())
    for name, parts in used.items():
        assert set(parts["test"]) == set(scenes.split["test"]) - lacking[name], name
    for trained, tested in itertools.permutations(used, 2):
        assert not set(used[trained]["train"]) & set(used[tested]["test"]), (trained, tested)


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.ckpt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.ckpt: not a readable checkpoint"):
        load_checkpoint(bad)


def test_a_checkpoint_whose_classes_disagree_with_its_data_is_refused(trained_run):
    _, out = trained_run
    with pytest.raises(CheckpointError, match="last.ckpt: the network was trained on classes .* the data give"):
        load_checkpoint(out / "checkpoints" / "last.ckpt", class_names=["car"])


def test_resume_continues_the_epochs_and_the_wandb_run(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ("--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.callbacks", "[]")
    first = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "1", *common))
    finish_run(first.trainer.logger)
    last = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert saved["epoch"] == 0 and saved["wandb_run_id"] == first.trainer.logger.version
    resumed = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "3", *common,
                                "--ckpt_path", str(last)))
    finish_run(resumed.trainer.logger)
    assert torch.load(last, weights_only=True)["epoch"] == 2
    assert resumed.trainer.global_step == 3 * first.trainer.global_step
    assert resumed.trainer.logger.version == first.trainer.logger.version
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(first.trainer.logger.version) for r in runs)
    # The resumed part of the history continues at epoch 1.
    rows = history(next(runs[1].glob("run-*.wandb")))
    assert sorted(row["epoch"] for row in rows if "val/map" in row) == [1, 2]


class PoisonWeights(Callback):
    """Makes one weight non-finite just before the checkpoints of epoch ``from_epoch`` and later are saved."""

    def __init__(self, from_epoch: int = 0):
        self.from_epoch = from_epoch

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking and trainer.current_epoch >= self.from_epoch:
            with torch.no_grad():
                pl_module.net.backbone.conv_stem.weight[0, 0, 0, 0] = float("nan")


def test_a_diverging_run_stops_at_once_and_writes_no_checkpoint(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "3",
                     "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
                     "--trainer.callbacks", "[]", "--trainer.logger", "false", "--trainer.gradient_clip_val", "null",
                     "--model.ema_decay", "null", "--model.optimizer", "torch.optim.SGD",
                     "--model.optimizer.init_args.lr", "1e12")
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch 0, step \d+: the training loss is "
                                               r"(nan|inf); last good checkpoint: none was written"):
        run_cli(args)
    assert not list((tmp_path / "checkpoints").glob("*.ckpt"))


def test_non_finite_weights_are_never_checkpointed(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "1",
                            "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
                            "--trainer.callbacks", "[]", "--trainer.logger", "false"), run=False)
    cli.trainer.callbacks.insert(0, PoisonWeights())
    with pytest.raises(TrainingDiverged, match="weight tensors are non-finite .*this checkpoint is not written"):
        cli.trainer.fit(cli.model, cli.datamodule)
    assert not list((tmp_path / "checkpoints").glob("*.ckpt"))


def test_a_run_diverging_after_a_good_epoch_names_its_last_good_checkpoint(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "2",
                            "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
                            "--trainer.callbacks", "[]", "--trainer.logger", "false"), run=False)
    cli.trainer.callbacks.insert(0, PoisonWeights(from_epoch=1))
    with pytest.raises(TrainingDiverged) as diverged:
        cli.trainer.fit(cli.model, cli.datamodule)
    named = str(diverged.value).split("last good checkpoint: ")[1]
    assert "training diverged at epoch 1" in str(diverged.value) and named.startswith(str(tmp_path / "checkpoints"))
    module, _ = load_checkpoint(named)  # it exists, loads, and its weights are finite
    assert all(torch.isfinite(t).all() for t in module.state_dict().values() if t.is_floating_point())
    assert torch.load(named, weights_only=True)["epoch"] == 0


def test_class_names_come_from_the_data(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--data.class_names", "[car, person]",
                            "--trainer.fast_dev_run", "true", "--trainer.callbacks", "[]"))
    assert cli.model.hparams.class_names == ["car", "person"] == cli.datamodule.class_names
    assert cli.model.bench.num_classes == 2
    assert os.path.isabs(cli.datamodule.hparams.root)


@pytest.mark.slow
def test_sigterm_mid_epoch_saves_the_step_exits_143_and_the_resumed_run_finishes(synthetic_root, tmp_path, monkeypatch):
    """A real train.py process, held at step 2 of 4 in its first epoch, gets SIGTERM from outside."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "held"
    args = tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "2", "--trainer.limit_train_batches",
                     "4", "--trainer.limit_val_batches", "1", "--trainer.callbacks", hold_at(2, marker))
    status, output = signal_when_held([str(REPO / "train.py"), "fit", *args], marker, tmp_path)
    assert status == 128 + signal.SIGTERM, output[-3000:]
    last = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (0, 2)
    assert saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["completed"] == 2
    assert f"stopped by SIGTERM at epoch 0, step 2; saved {last}" in output

    resumed = run_cli([*args[:-1], "[]", "--ckpt_path", str(last)])
    finish_run(resumed.trainer.logger)
    finished = torch.load(last, weights_only=True)
    assert finished["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 2
    assert finished["global_step"] == 2 * 4  # the epoch's last two steps, then the second epoch: none twice, none lost
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and {r.name.rsplit("-", 1)[1] for r in runs} == {saved["wandb_run_id"]}


def test_fit_refuses_a_checkpoint_that_would_run_code(tmp_path):
    evil, touched = tmp_path / "evil.ckpt", tmp_path / "touched"
    torch.save({"state_dict": {}, "hyper_parameters": RunsCode(f"touch {touched}")}, evil)
    result = train_py(["fit", "--config", str(REPO / "configs/demo.yaml"), "--ckpt_path", str(evil),
                       "--trainer.logger", "false"], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("train.py: error: ") and "evil.ckpt: refused: loading it would call posix.system" in line
    assert not touched.exists()


@pytest.mark.parametrize("settings, message", [
    ({"settings": {"method_settings": {"rise": {"n_mask": 5}}}}, "rise: unknown setting 'n_mask'; did you mean 'n_masks'?"),
    ({"settings": {"methods": ["gradcam", "sidu"], "method_settings": {"sidu": {"layer": "class_nett"}}}},
     "sidu: layer 'class_nett' is not a module of the net; did you mean 'class_net'?"),
    ({"settings": {"scoring": {"rule": "drsie"}}}, "scoring: rule 'drsie'; did you mean 'drise'?"),
    ({"every_n_epochs": 0}, "ExplanationCallback: every_n_epochs 0 must be >= 1"),
])
def test_bad_explanation_settings_stop_training_before_its_first_step(synthetic_root, tmp_path, monkeypatch, settings, message):
    monkeypatch.chdir(tmp_path)
    callback = json.dumps([{"class_path": "spectral_xai.callbacks.ExplanationCallback", "init_args": settings}])
    with pytest.raises(Exception) as raised:
        run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "1",
                          "--trainer.callbacks", callback, "--trainer.logger", "false"))
    assert message in str(user_error_in(raised.value))
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").glob("*.ckpt"))


def test_log_model_into_a_save_dir_that_cannot_be_written_stops_before_training(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(Exception) as raised:
        run_cli(tiny_args("configs/demo.yaml", synthetic_root, tmp_path, "--trainer.max_epochs", "1",
                          "--trainer.logger.init_args.save_dir", str(tmp_path / "a_file" / "runs"),
                          "--trainer.logger.init_args.log_model", "true"))
    assert "a_file/runs: not writable" in str(user_error_in(raised.value))
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
def test_the_same_seed_trains_the_same_net_bit_for_bit(synthetic_root, tmp_path):
    """The demo recipe twice at one thread count, data-loader workers and augmentation included:
    every weight equal to the bit. (Another thread count sums gradients in another order, so the
    promise is for one machine at one thread count; README says so.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        weights = [train_briefly(synthetic_root, tmp_path / name) for name in ("first", "second")]
    finally:
        torch.set_num_threads(threads)
    differing = [name for name, value in weights[0].items() if not torch.equal(value, weights[1][name])]
    assert not differing, f"{len(differing)} of {len(weights[0])} tensors differ, the first {differing[:3]}"


def train_briefly(root: Path, out: Path) -> dict[str, torch.Tensor]:
    cli = run_cli(tiny_args("configs/demo.yaml", root, out, "--seed_everything", "0", "--data.num_workers", "2",
                            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
                            "--trainer.limit_val_batches", "1", "--trainer.callbacks", "[]", "--trainer.logger", "false"))
    return cli.model.state_dict()
