"""The explanation callback inside real fits: a real offline W&B run read back from disk."""
import json
import logging
import re
import logging.handlers
import shutil
from pathlib import Path

import pytest
import pytorch_lightning as pl
import wandb
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from spectral_xai.callbacks import ExplanationCallback, RunRecord
from spectral_xai.callbacks.run_record import split_hash
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explain_cli import main as explain_main
from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.data_modules.layout import CLASS_NAMES
from spectral_xai.explainers import REGISTRY, register
from spectral_xai.explainers.base import SaliencyMethod
from spectral_xai.lit_modules import EfficientDetModule
from spectral_xai.loggers import AutoWandbLogger
from spectral_xai.settings import SettingsError

from ..helpers.outputs import read_rows
from ..helpers.training import fit_ddp_subprocess
from spectral_xai.wandb_records import artifacts, config, finish_run, history, summary

# One gradient and one perturbation method: what the callback does with a method does not depend on
# which one it is (SIDU and the others are exercised in tests/test_explaining.py and tests/explainers).
METHODS = ["gradcam", "rise"]
# target_min_score 0: an untrained detector's top box scores about 0.01, and it is still a box to explain.
SETTINGS = dict(methods=METHODS, method_settings={"rise": {"n_masks": 8}}, step=0.5, target_min_score=0.0, batch_size=12,
                baselines=False)
FAST = dict(settings=ExplainSettings(**SETTINGS), num_images=2)


def fit(root, logger, callbacks, epochs=2, checkpoints=None, ckpt_path=None):
    pl.seed_everything(0)
    dm = MultispectralDataModule(str(root), image_size=128, batch_size=2, num_workers=0, val_fraction=0.2)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, limit_train_batches=2, limit_val_batches=1,
                         logger=logger, callbacks=callbacks + ([checkpoints] if checkpoints else []),
                         enable_progress_bar=False, enable_checkpointing=checkpoints is not None, num_sanity_val_steps=1)
    trainer.fit(EfficientDetModule(CLASS_NAMES, image_size=128), dm, ckpt_path=ckpt_path)
    return trainer


@pytest.fixture(scope="module")
def wandb_fit(synthetic_root, tmp_path_factory):
    """Two explained epochs into a real offline W&B run with checkpoints logged as artifacts
    (``log_model: true``) and the run record; cells bounded to 64 px, half the 128-px input."""
    out = tmp_path_factory.mktemp("wandb_fit")
    logger = AutoWandbLogger(save_dir=str(out), offline=True, project="test", log_model=True)
    checkpoints = ModelCheckpoint(dirpath=out / "checkpoints", monitor="val/map", mode="max", save_last=True)
    callback = ExplanationCallback(**FAST, media_pixels=64)
    trainer = fit(synthetic_root, logger, [callback, RunRecord()], checkpoints=checkpoints)
    run_id = logger.experiment.id
    finish_run(logger)
    (run,) = (out / "wandb").glob("offline-run-*")
    return trainer, next(run.glob("run-*.wandb")), run_id, out


def test_wandb_run_holds_every_key_image_and_row_for_every_epoch(wandb_fit):
    _, run_file, _, _ = wandb_fit
    run = run_file.parent
    rows = history(run_file)
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
    assert sum("explain/boxes" in r for r in rows) == 2
    # One key per scene: W&B's step slider walks through its two explained epochs.
    scene_keys = sorted({k for r in rows for k in r if k.startswith("explain/maps/")})
    assert len(scene_keys) == 2 and all(k.endswith("_rgb") for k in scene_keys)
    for key in scene_keys:
        steps = [r["trainer/global_step"] for r in rows if key in r]
        assert len(steps) == 2 and steps[0] < steps[1]
    maps = sorted((run / "files" / "media" / "images" / "explain" / "maps").glob("*.jpg"))
    assert len(maps) == 2 * 2


def test_the_table_holds_each_rows_image_and_overlay_with_its_boxes(wandb_fit, synthetic_root):
    """The table W&B shows: its JSON and media are in the run's table artifact (staged for sync)."""
    _, run_file, _, _ = wandb_fit
    from PIL import Image
    width = Image.open(next((synthetic_root / "ConvertedImages" / "rgb").glob("*.png"))).width
    tables = [a for a in artifacts(run_file) if a["type"] == "run_table"]
    assert len(tables) == 2  # one version per explained epoch
    for epoch, table in enumerate(tables):
        content = json.loads(table["files"]["explain/boxes.table.json"].read_text())
        column = content["columns"].index
        assert content["columns"][column("method") + 1:column("method") + 3] == ["image", "overlay"]
        # only the spectra of the run's input: an RGB net has no columns for the others
        assert [c for c in content["columns"] if c.startswith("score_")] == ["score_without_rgb", "score_alone_rgb"]
        assert len(content["data"]) == 2 * len(METHODS)
        for row in content["data"]:
            assert row[column("epoch")] == epoch and row[column("method")] in METHODS and row[column("error")] == ""
            assert 0 <= row[column("insertion_auc")] <= 1
            for cell in (row[column("image")], row[column("overlay")]):
                assert cell["_type"] == "image-file" and table["files"][cell["path"]].is_file()
                assert max(cell["width"], cell["height"]) == 64  # the 128-px input shrunk to the budget
                (explained,) = cell["boxes"]["explained"]
                assert CLASS_NAMES[explained["class_id"]] == row[column("class")]
                assert explained["box_caption"].startswith(row[column("class")])
                assert explained["scores"]["score"] == pytest.approx(row[column("score")], abs=1e-4)
                # the box in the cell's pixels (64 of the 128-px input); the row's in the image file's
                assert explained["position"]["maxX"] == pytest.approx(row[column("x2")] * 64 / width, abs=0.2)
                annotated = cell["boxes"]["annotated"]
                assert annotated and all(b["box_caption"] == CLASS_NAMES[b["class_id"]] for b in annotated)
        # the input is shared by a box's methods, each method has its own overlay
        images = {row[column("image")]["path"] for row in content["data"]}
        overlays = {row[column("overlay")]["path"] for row in content["data"]}
        assert len(images) == 2 and len(overlays) == 2 * len(METHODS)


@pytest.mark.slow
def test_stability_is_measured_across_a_resume(wandb_fit, synthetic_root, tmp_path):
    """The callback's last maps travel in the checkpoint: the first epoch a resumed run explains
    (Lightning repeats the validation the checkpoint was written in) already logs its stability,
    against the maps before the interruption, as an uninterrupted run would; a fresh callback could not."""
    trainer, _, _, out = wandb_fit
    (original,) = [c for c in trainer.callbacks if isinstance(c, ExplanationCallback)]
    assert original.previous_maps
    resumed = ExplanationCallback(**FAST, media_pixels=64)
    fit(synthetic_root, CSVLogger(tmp_path), [resumed], epochs=3, ckpt_path=out / "checkpoints" / "last.ckpt")
    (metrics,) = tmp_path.glob("**/metrics.csv")
    rows = read_rows(metrics)
    explained = [row["epoch"] for row in rows if row.get("explain/gradcam/seconds_per_box")]
    stable = [row["epoch"] for row in rows if row.get("explain/gradcam/stability")]
    assert explained and stable == explained
    assert all(-1 <= float(row["explain/gradcam/stability"]) <= 1 for row in rows if row.get("explain/gradcam/stability"))


def test_stability_summary_and_config_answer_which_run_this_is(wandb_fit):
    trainer, run_file, _, _ = wandb_fit
    rows = history(run_file)
    explained = [r for r in rows if "explain/failures" in r]
    assert len(explained) == 2
    stable = [{k: v for k, v in r.items() if k.endswith("/stability")} for r in explained]
    assert not stable[0]  # nothing to compare with at the first explained epoch
    assert stable[1] and set(stable[1]) <= {f"explain/{m}/stability" for m in METHODS}
    assert all(-1 <= v <= 1 for v in stable[1].values())
    last = summary(run_file)
    assert last["explain/gradcam/seconds_per_box"] == explained[-1]["explain/gradcam/seconds_per_box"]
    val_maps = [r["val/map"] for r in rows if "val/map" in r]
    assert last["val/map_best"] == pytest.approx(max(val_maps))
    record = config(run_file)["run"]
    parts = trainer.datamodule.parts
    assert record["split_hash"] == split_hash(parts) and len(record["split_hash"]) == 16
    assert record["part_sizes"] == {k: len(v) for k, v in parts.items()}
    assert record["dataset"] == {"images_read": 24, "skipped": {}, "repaired": {}} and record["version"] == "0.1.0"
    assert record["git_commit"] is None or len(record["git_commit"].removesuffix("-dirty")) == 40


def test_log_model_keeps_checkpoints_as_offline_artifacts_with_the_split(wandb_fit):
    _, run_file, run_id, out = wandb_fit
    models = [a for a in artifacts(run_file) if a["type"] == "model"]
    assert models and {a["name"] for a in models} == {f"model-{run_id}"}
    assert any("best" in a["aliases"] for a in models)
    for model in models:
        assert set(model["files"]) == {"model.ckpt", "split.json"}
        assert model["files"]["model.ckpt"].stat().st_size > 1_000_000
        assert json.loads(model["files"]["split.json"].read_text()) == json.loads((out / "checkpoints" / "split.json").read_text())
        assert model["metadata"]["monitor"] == "val/map" and "val/map" in model["metadata"]["metrics"]


def test_tensorboard_gets_the_figures_as_images_and_the_table_as_csv_and_a_failing_logger_is_counted(
        synthetic_root, tmp_path, caplog):
    """A W&B logger whose table upload fails (a fault injected by subclassing: a real W&B failure
    needs a network to lose) beside a real TensorBoard logger: the failure is logged and counted
    once an epoch, TensorBoard still gets every image, training finishes."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    class FailingWandb(AutoWandbLogger):
        def log_table(self, *args, **kwargs):
            raise RuntimeError("table upload refused")

    wandb_logger = FailingWandb(save_dir=str(tmp_path), offline=True, project="test")
    board = TensorBoardLogger(tmp_path, name="tb")
    callback = ExplanationCallback(**FAST)
    with caplog.at_level(logging.ERROR):
        trainer = fit(synthetic_root, [board, wandb_logger], [callback])
    finish_run(wandb_logger)
    assert trainer.state.finished and callback.totals["failures"] == 2
    failed = [r for r in caplog.records if "to FailingWandb failed" in r.getMessage()]
    assert len(failed) == 2 and all("table upload refused" in r.exc_text for r in failed)
    events = EventAccumulator(board.log_dir, size_guidance={"images": 0})
    events.Reload()
    scene_keys = [t for t in events.Tags()["images"] if t.startswith("explain/maps/")]
    assert len(scene_keys) == 2
    for key in scene_keys:
        assert len(events.Images(key)) == 2 and events.Images(key)[0].width > 0
    assert [e.value for e in events.Scalars("explain/failures")] == [1.0, 1.0]
    for epoch in (0, 1):
        folder = Path(board.log_dir) / "explanations" / f"epoch{epoch:03d}"
        assert len(read_rows(folder / "boxes.csv")) == 2 * len(METHODS) and not list(folder.glob("*.png"))


@pytest.fixture(scope="module")
def csv_fit_with_a_broken_method(synthetic_root, tmp_path_factory):
    """One fit with a CSV logger and a method that always raises beside working ones; the log
    records of the explanation are kept for the tests that read them."""
    @register("broken_test", "raises")
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
    assert len(list((run / "files" / "media" / "images" / "explain" / "maps").glob("*.jpg"))) == 4
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


def test_explain_py_explains_a_logged_model_artifact_into_the_run_it_came_from(wandb_fit, tmp_path, monkeypatch):
    """The artifact as ``wandb artifact get`` would leave it (here: its staged files, as an offline
    run cannot download), explained by reference, logged with ``--wandb_run_id`` to the training run."""
    _, run_file, run_id, _ = wandb_fit
    (best,) = [a for a in artifacts(run_file) if a["type"] == "model" and "best" in a["aliases"]][-1:]
    folder = tmp_path / "artifacts" / f"model-{run_id}:best"
    folder.mkdir(parents=True)
    for name, staged in best["files"].items():
        shutil.copy(staged, folder / name)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "explained"
    try:
        assert explain_main([f"model-{run_id}:best", "--output", str(out), "--methods", "gradcam", "--num_images", "1", "--step",
                             "0.5", "--target_min_score", "0.0", "--baselines", "false", "--wandb_run_id", run_id]) == 0
    finally:
        # explain.py in this process started W&B's service and, as wandb does, left it running with its
        # address in WANDB_SERVICE: every later subprocess of this worker would join it.
        wandb.teardown()
    (run,) = (out / "wandb").glob(f"offline-run-*-{run_id}")
    logged = next(run.glob("run-*.wandb"))
    rows = history(logged)
    assert any("explain/gradcam/seconds_per_box" in r for r in rows)
    assert [k for r in rows for k in r if k.startswith("explain/maps/")] == [f"explain/maps/model-{run_id}_best_{s}_rgb"
                                                                             for s in read_ids(out)]
    (report,) = [a for a in artifacts(logged) if a["type"] == "explanation"]
    assert {"report.html", "boxes.csv", "summary.csv"} <= set(report["files"])
    assert (report["files"]["report.html"].read_text() == (out / "report.html").read_text())


def read_ids(out: Path) -> list[str]:
    return sorted({row["sample_id"] for row in read_rows(out / "boxes.csv")})
