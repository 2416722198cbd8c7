"""explain.py with every registered method and the randomisation sanity check, as a user runs it
(a module of its own, so that pytest-xdist runs it beside the three-net tests of test_explain.py)."""
import json
import os

import pytest
import torch

from spectral_xai.explainers import REGISTRY
from spectral_xai.sanity import CASCADE

from .helpers.outputs import explain_py, read_rows
from spectral_xai.wandb_records import history


@pytest.mark.slow
def test_every_method_and_the_sanity_check_from_another_folder(trained_checkpoint, tmp_path):
    """The README's command with every method and the randomisation test, run from a folder other
    than the one training ran in: the checkpoint stores its dataset root absolute."""
    saved = torch.load(trained_checkpoint, weights_only=True)["datamodule_hyper_parameters"]["root"]
    assert os.path.isabs(saved)
    result = explain_py(str(trained_checkpoint), "--output", "out", "--methods", "all", "--sanity_check",
                        "--sanity_images", "1", "--num_images", "2", "--step", "0.25", "--wandb_project", "test",
                        "--method_settings", '{"rise": {"n_masks": 16}, "sess": {"scales": 2}}', cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    for name in ("boxes.csv", "summary.csv", "summary.json", "report.html", "sanity.csv", "sanity.json"):
        assert (out / name).is_file(), name
    (row,) = json.loads((out / "summary.json").read_text())["rows"]
    for method in REGISTRY:
        assert row[method]["boxes"] == 2 and row[method]["failed"] == 0, method
        for metric in ("pointing_game", "energy_pointing_game"):
            assert 0 <= row[method][metric]["mean"] <= 1, (method, metric)
    sanity = read_rows(out / "sanity.csv")
    assert [(r["method"], r["stage"]) for r in sanity] == [(m, stage) for m in sorted(REGISTRY) for stage, _ in CASCADE]
    assert all(r["failed"] == "0" and int(r["compared"]) + int(r["blank"]) == 1 for r in sanity)
    (figure,) = (out / "sanity").glob("*.png")
    assert str(figure.relative_to(out)) in (out / "report.html").read_text()
    # The W&B run (offline: no account here) has every method's scalars, localisation included, and the tables.
    (run,) = (out / "wandb").glob("offline-run-*")
    logged = {key: value for row in history(next(run.glob("run-*.wandb"))) for key, value in row.items()}
    for method in REGISTRY:
        assert 0 <= logged[f"explain/{method}/insertion_auc"] <= 1, method
    # A localisation score is logged where some map defines it (a method blank on both boxes has none).
    located = [k for k in logged if k.endswith("/energy_pointing_game")]
    assert len(located) >= len(REGISTRY) - 2 and all(0 <= logged[k] <= 1 for k in located)
    tables = {p.name.split("_")[0] for p in (run / "files" / "media" / "table" / "explain").glob("*.table.json")}
    assert {"summary", "sanity", "boxes"} <= tables
