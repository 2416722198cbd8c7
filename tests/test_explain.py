"""explain.py across per-spectrum, mixed and early-fusion checkpoints trained here on synthetic data."""
import json
import math
import subprocess
import sys

import pytest

from spectral_xai.checkpoint import CheckpointError
from spectral_xai.data_modules.reader import DatasetError
from spectral_xai.posthoc import explain_checkpoints

from .conftest import REPO
from .test_train import run_cli, tiny_args

FAST = dict(methods=["gradcam", "rise", "sidu"], method_settings={"rise": {"n_masks": 16, "batch_size": 8}},
            num_images=2, step=0.25, min_score=0.0, batch_size=8)


@pytest.fixture(scope="module")
def checkpoints(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("explain_ckpts")
    made = {}
    for name, extra in (("fir", ["--data.spectra", "[fir]"]),
                        ("rgb_mir", ["--data.spectra", "[rgb, mir]", "--data.fusion", "mixed"]),
                        ("rgb_mir_early", ["--data.spectra", "[rgb, mir]", "--data.fusion", "early"])):
        run_cli(tiny_args("configs/demo.yaml", synthetic_root, out / name, *extra, "--trainer.max_epochs", "1",
                          "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
                          "--trainer.logger", "false", "--trainer.callbacks", "null",
                          "--checkpoint.dirpath", str(out / name / "checkpoints")))
        made[name] = out / name / "checkpoints" / "last.ckpt"
    return made


def test_explain_writes_table_figures_curves_and_report(checkpoints, tmp_path):
    output = tmp_path / "explain"
    command = [sys.executable, str(REPO / "explain.py"), "--checkpoints",
               json.dumps([str(checkpoints["fir"]), str(checkpoints["rgb_mir"]), str(checkpoints["rgb_mir_early"])]),
               "--output", str(output), "--num_images", "2", "--step", "0.25",
               "--min_score", "0.0", "--batch_size", "8", "--method_settings", '{"rise": {"n_masks": 16, "batch_size": 8}}']
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    cells = {(row["model"], row["spectrum"]) for row in summary["rows"]}
    assert cells == {("fir", "fir"), ("rgb_mir", "rgb"), ("rgb_mir", "mir"), ("rgb_mir_early", "rgb+mir")}
    for row in summary["rows"]:
        for method in FAST["methods"]:
            stats = row[method]
            assert stats["boxes"] == 2 and stats["failed"] == 0
            for metric in ("deletion_auc", "insertion_auc", "seconds"):
                assert math.isfinite(stats[metric]["mean"]) and math.isfinite(stats[metric]["std"])
    csv_lines = (output / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 4 and "±" in csv_lines[1]
    assert len((output / "boxes.csv").read_text().splitlines()) == 1 + 4 * 2 * 3
    box_pngs = sorted((output / "boxes").glob("*.png"))
    curve_pngs = sorted((output / "curves").glob("*.png"))
    assert len(box_pngs) == 4 * 2 and len(curve_pngs) == 4 * 3
    report = (output / "report.html").read_text()
    for png in box_pngs + curve_pngs:
        assert str(png.relative_to(output)) in report
    assert report.count("data:image/png;base64,") == len(box_pngs) + len(curve_pngs)


def test_clear_errors(checkpoints, tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        explain_checkpoints([tmp_path / "none.ckpt"], tmp_path, **FAST)
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="corrupt.ckpt: not a readable checkpoint"):
        explain_checkpoints([corrupt], tmp_path, **FAST)
    with pytest.raises(CheckpointError, match="early-fusion net takes exactly"):
        explain_checkpoints([checkpoints["rgb_mir_early"]], tmp_path, spectra=["rgb"], **FAST)
    with pytest.raises(KeyError, match="unknown saliency method 'lime'"):
        explain_checkpoints([checkpoints["fir"]], tmp_path, **{**FAST, "methods": ["lime"]})
    with pytest.raises(DatasetError, match="leaves no test samples|is empty"):
        explain_checkpoints([checkpoints["fir"]], tmp_path, split="vis_ok", root=str(_no_vis_ok(checkpoints, tmp_path)), **FAST)


def _no_vis_ok(checkpoints, tmp_path):
    import shutil

    import torch

    root = torch.load(checkpoints["fir"], weights_only=False)["datamodule_hyper_parameters"]["root"]
    copy = shutil.copytree(root, tmp_path / "copy")
    for png in (copy / "vis_ok").glob("*.png"):
        png.unlink()
    return copy
