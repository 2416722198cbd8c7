"""reproduce.py with training seeds under DDP: a module of its own, so that the test processes can
run it beside the other reproduce tests."""
import json

import pytest
import torch

from .helpers.outputs import read_rows
from .helpers.training import FAST_TRAIN, REPO, run_ids, run_script


@pytest.mark.slow
def test_reproduce_over_seeds_under_ddp_trains_each_net_once_per_seed_and_explains_them_once(synthetic_root, tmp_path):
    """Two nets x two training seeds on two CPU processes (gloo): Lightning's launcher re-runs the
    script for rank 1, which trains its share of every net beside rank 0 and leaves the explaining to
    it. Every net is trained once, per seed, on one split, and its spectra are compared over seeds."""
    out = tmp_path / "out"
    done = run_script("reproduce.py", [
        "--train_config", str(REPO / "configs/demo.yaml"), "--output", str(out), "--root", str(synthetic_root),
        "--nets", "fir", "mir", "--seeds", "0", "3",
        "--train_args", " ".join([*FAST_TRAIN, "--trainer.devices", "2", "--trainer.strategy", "ddp"]),
        "--explain", "{methods: [gradcam], num_images: 3, step: 0.5, target_min_score: 0.0, boxes: top, scene_grids: 0}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("wrote ") == 1 and "rank 1: every net trained; rank 0 explains them" in done.stderr
    runs = ["fir-seed0", "fir-seed3", "mir-seed0", "mir-seed3"]
    saved = {run: torch.load(out / run / "checkpoints" / "last.ckpt", weights_only=True) for run in runs}
    assert {run: state["callbacks"]["RunRecord"]["seed"] for run, state in saved.items()} == {
        "fir-seed0": 0, "fir-seed3": 3, "mir-seed0": 0, "mir-seed3": 3}
    assert {state["global_step"] for state in saved.values()} == {2}  # 2 batches on each rank, one epoch, once
    assert all(len(run_ids(out / run)) == 1 for run in runs)
    splits = [json.loads((out / run / "checkpoints" / "split.json").read_text())["test"] for run in runs]
    assert all(split == splits[0] for split in splits)
    first = next(iter(saved["fir-seed0"]["state_dict"]))
    assert not torch.equal(saved["fir-seed0"]["state_dict"][first], saved["fir-seed3"]["state_dict"][first])
    folder = out / "explain"
    rows = json.loads((folder / "comparisons.json").read_text())["rows"]
    assert {row["scope"] for row in rows if row["table"] == "methods"} == {"fir on fir", "mir on mir"}
    spectra = [row for row in rows if row["table"] == "spectra"]
    assert spectra and {(row["a"], row["b"]) for row in spectra} == {("fir on fir", "mir on mir")}
    assert all("2 x 2 nets" in row["note"] and "fewer than 3 training seeds" in row["note"] for row in spectra)
    assert {row["model"] for row in read_rows(folder / "boxes.csv")} == set(runs)
