"""The explanation callback inside real fits: a real offline W&B run read back from disk."""
import json
import logging
import re
import logging.handlers
import pytest
import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger

from spectral_xai.callbacks import ExplanationCallback
from spectral_xai.evaluation import ExplainSettings
from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.data_modules.layout import CLASS_NAMES
from spectral_xai.explainers import REGISTRY, register
from spectral_xai.explainers.base import SaliencyMethod
from spectral_xai.lit_modules import EfficientDetModule
from spectral_xai.loggers import AutoWandbLogger
from spectral_xai.settings import SettingsError

from ..helpers.outputs import read_rows
from ..helpers.training import fit_ddp_subprocess
from ..helpers.wandb_records import finish_run, history

# One gradient and one perturbation method: what the callback does with a method does not depend on
# which one it is (SIDU and the others are exercised in tests/test_evaluation.py and tests/explainers).
METHODS = ["gradcam", "rise"]
# target_min_score 0: an untrained detector's top box scores about 0.01, and it is still a box to explain.
SETTINGS = dict(methods=METHODS, method_settings={"rise": {"n_masks": 8}}, step=0.5, target_min_score=0.0, batch_size=12,
                baselines=False)
FAST = dict(settings=ExplainSettings(**SETTINGS), num_images=2)


def fit(root, logger, callbacks, epochs=2):
    pl.seed_everything(0)
    dm = MultispectralDataModule(str(root), image_size=128, batch_size=2, num_workers=0, val_fraction=0.2)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, limit_train_batches=2, limit_val_batches=1,
                         logger=logger, callbacks=callbacks, enable_progress_bar=False, enable_checkpointing=False,
                         num_sanity_val_steps=1)
    trainer.fit(EfficientDetModule(CLASS_NAMES, image_size=128), dm)
    return trainer


def test_wandb_run_holds_every_key_image_and_row_for_every_epoch(synthetic_root, tmp_path):
    logger = AutoWandbLogger(save_dir=str(tmp_path), offline=True, project="test")
    fit(synthetic_root, logger, [ExplanationCallback(**FAST)])
    finish_run(logger)
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    rows = history(next(run.glob("run-*.wandb")))
    for method in METHODS:
        blank = [r[f"explain/{method}/blank"] for r in rows if f"explain/{method}/blank" in r]
        assert len(blank) == 2 and all(0 <= b <= 2 for b in blank)  # of the 2 maps each epoch
        for key in ("insertion_auc", "deletion_auc", "seconds_per_box"):
            values = [r[f"explain/{method}/{key}"] for r in rows if f"explain/{method}/{key}" in r]
            # AUCs stand on the maps that are not blank: an epoch whose maps were all blank logs none
            expected = 2 if key == "seconds_per_box" else sum(b < 2 for b in blank)
            assert len(values) == expected, f"explain/{method}/{key} logged {len(values)} times over 2 epochs"
            assert all(v >= 0 for v in values)
    assert any("explain/gradcam/insertion_auc" in r for r in rows)
    # The paired difference of the methods, each epoch where both had maps that are not blank, with its interval.
    for r in rows:
        if "explain/rise/insertion_auc" in r and "explain/gradcam/insertion_auc" in r:
            key = "explain/compare/gradcam_vs_rise/deletion_auc"
            assert r[f"{key}_low"] <= r[key] <= r[f"{key}_high"]
    for key in ("explain/spectrum/rgb/score_without", "explain/spectrum/rgb/score_alone"):
        assert sum(key in r for r in rows) == 2, key
    # Localisation scores: logged where defined (a blank map of this untrained net has none), in [0, 1].
    localisation = [v for r in rows for k, v in r.items() if k.rsplit("/", 1)[-1] in ("pointing_game", "energy_pointing_game", "odi")]
    assert localisation and all(0 <= v <= 1 for v in localisation)
    assert sum("explain/maps" in r for r in rows) == 2 and sum("explain/boxes" in r for r in rows) == 2
    images = sorted((run / "files" / "media" / "images" / "explain").glob("maps_*.png"))
    assert len(images) == 2 * 2  # two images per epoch
    tables = sorted((run / "files" / "media" / "table" / "explain").glob("boxes_*.table.json"))
    assert len(tables) == 2
    for epoch, table in enumerate(tables):
        content = json.loads(table.read_text())
        column = content["columns"].index
        assert len(content["data"]) == 2 * len(METHODS)
        assert {row[column("method")] for row in content["data"]} == set(METHODS)
        assert all(0 <= row[column("insertion_auc")] <= 1 and row[column("error")] == "" for row in content["data"])
        assert all(row[column("judged_against")] in ("annotation", "detection") for row in content["data"])
    assert {row[column("epoch")] for t in tables for row in json.loads(t.read_text())["data"]} == {0, 1}


@pytest.fixture(scope="module")
def csv_fit_with_a_broken_method(synthetic_root, tmp_path_factory):
    """One fit with a CSV logger and a method that always raises beside working ones; the log
    records of the explanation are kept for the tests that read them."""
    @register("broken_test")
    class Broken(SaliencyMethod):
        def saliency(self, detector, image, target):
            raise RuntimeError("this method is broken on purpose")

    out = tmp_path_factory.mktemp("csv_fit")
    callback = ExplanationCallback(**{**FAST, "settings": ExplainSettings(**{**SETTINGS, "methods": ["broken_test", *METHODS]})})
    handler = logging.handlers.BufferingHandler(capacity=10_000)
    logging.getLogger("spectral_xai").addHandler(handler)
    try:
        trainer = fit(synthetic_root, CSVLogger(out), [callback])
    finally:
        REGISTRY.pop("broken_test")
        logging.getLogger("spectral_xai").removeHandler(handler)
    text = "\n".join(logging.Formatter().format(record) for record in handler.buffer)
    return trainer, callback, out / "lightning_logs" / "version_0", text


def test_a_failing_method_is_logged_counted_and_training_goes_on(csv_fit_with_a_broken_method):
    trainer, callback, _, log_text = csv_fit_with_a_broken_method
    assert trainer.state.finished and trainer.current_epoch == 2
    assert callback.totals["failures"] == 2 * 2
    assert "this method is broken on purpose" in log_text and "Traceback" in log_text
    assert trainer.callback_metrics["explain/failures"] == 2
    assert "explain/gradcam/insertion_auc" in trainer.callback_metrics


def test_with_another_logger_scalars_log_and_figures_go_to_the_run_directory(csv_fit_with_a_broken_method):
    _, _, run_dir, _ = csv_fit_with_a_broken_method
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert "explain/rise/blank" in header and "explain/gradcam/insertion_auc" in header
    assert "explain/gradcam/seconds_per_box" in header
    for epoch in (0, 1):
        folder = run_dir / "explanations" / f"epoch{epoch:03d}"
        assert len(list(folder.glob("*.png"))) == 2
        rows = read_rows(folder / "boxes.csv")
        assert len(rows) == 2 * (1 + len(METHODS))
        assert {row["method"] for row in rows if row["error"]} == {"broken_test"}


def test_images_without_detections_and_time_budget_are_reported_not_crashed(synthetic_root, tmp_path, caplog):
    unexplained = ExplanationCallback(**{**FAST, "settings": ExplainSettings(**{**SETTINGS, "target_min_score": 0.99})})
    budget = ExplanationCallback(**{**FAST, "time_budget_s": 0.0})
    with caplog.at_level(logging.WARNING):
        fit(synthetic_root, CSVLogger(tmp_path), [unexplained, budget], epochs=1)
    assert unexplained.totals["no_detection"] == 2 and "not explained" in caplog.text
    assert budget.totals["skipped_for_time"] == 2


def test_unknown_method_fails_at_configuration():
    with pytest.raises(SettingsError, match="unknown saliency method 'lime'"):
        ExplanationCallback({"methods": ["lime"]})


@pytest.mark.slow
def test_two_process_ddp_fit_shares_the_scenes_and_logs_every_row_once(synthetic_root, tmp_path):
    """train.py under 2-process DDP on CPU, with the callback: each rank explains two of the four
    scenes, and rank zero logs all four once in one W&B run; one set of checkpoints."""
    config = tmp_path / "callback.yaml"
    config.write_text(
        "trainer:\n  callbacks:\n    - class_path: spectral_xai.callbacks.ExplanationCallback\n      init_args:\n"
        "        settings:\n          methods: [gradcam, rise]\n          method_settings: {rise: {n_masks: 8}}\n"
        "          scoring: {rule: drise}\n          batch_size: 8\n          step: 0.5\n          target_min_score: 0.0\n"
        "          baselines: false\n"
        "        num_images: 4\n        every_n_epochs: 1\n")
    result = fit_ddp_subprocess(synthetic_root, tmp_path, "--config", str(config))
    shares = {int(m[1]): m[2].split(", ") for m in re.finditer(r"rank (\d) of 2 explained scenes (.*)", result.stderr)}
    assert sorted(shares) == [0, 1] and [len(s) for s in shares.values()] == [2, 2], result.stderr[-3000:]
    assert not set(shares[0]) & set(shares[1])
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    rows = history(next(run.glob("run-*.wandb")))
    assert sum("explain/rise/insertion_auc" in r for r in rows) == 1
    assert len(list((run / "files" / "media" / "images" / "explain").glob("maps_*.png"))) == 4
    (table,) = (run / "files" / "media" / "table" / "explain").glob("boxes_*.table.json")
    content = json.loads(table.read_text())
    column = content["columns"].index
    keys = [(row[column("sample_id")], row[column("method")]) for row in content["data"]]
    assert sorted(keys) == sorted((scene, method) for scene in shares[0] + shares[1] for method in ("gradcam", "rise"))
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and (tmp_path / "checkpoints" / "split.json").is_file()


def test_missed_objects_are_explained_each_epoch_and_logged_apart(synthetic_root, tmp_path):
    # An untrained net's boxes score about 0.01: at target_min_score 0.5 every annotated object is missed.
    settings = ExplainSettings(**{**SETTINGS, "target_min_score": 0.5, "targets": ["detections", "missed"]})
    callback = ExplanationCallback(settings=settings, num_images=2)
    fit(synthetic_root, CSVLogger(tmp_path), [callback], epochs=1)
    run_dir = tmp_path / "lightning_logs" / "version_0"
    (metrics,) = [r for r in read_rows(run_dir / "metrics.csv") if r.get("explain/missed/count")]
    assert float(metrics["explain/missed/count"]) == 2  # boxes: top, one miss per scene
    assert metrics["explain/missed/gradcam/seconds_per_box"] and not metrics.get("explain/gradcam/seconds_per_box")
    rows = read_rows(run_dir / "explanations" / "epoch000" / "boxes.csv")
    assert {row["kind"] for row in rows} == {"missed"} and len(rows) == 2 * len(METHODS)
