"""reproduce.py: nets of different spectra on one split, explained together."""
import json

import pytest

from spectral_xai.reproduce import build_parser, main

from .helpers.outputs import read_rows
from .helpers.training import REPO

FAST_TRAIN = ["--data.image_size", "128", "--data.batch_size", "2", "--data.num_workers", "0",
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
              "--trainer.callbacks", "[]", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]


@pytest.mark.slow
def test_reproduce_trains_every_net_on_one_split_and_explains_the_same_scenes(synthetic_root, tmp_path, capsys):
    config = tmp_path / "reproduce.yaml"
    config.write_text(json.dumps({
        "train_config": str(REPO / "configs/demo.yaml"), "output": str(tmp_path / "out"), "root": str(synthetic_root),
        "nets": {"fir": ["--data.spectra", "[fir]"], "rgb_mir": ["--data.spectra", "[rgb, mir]"]},
        "train_args": FAST_TRAIN,
        "explain": {"methods": ["gradcam"], "num_images": 2, "step": 0.5, "target_min_score": 0.0}}))
    folder = main(["--config", str(config)])
    splits = {name: json.loads((tmp_path / "out" / name / "checkpoints" / "split.json").read_text())
              for name in ("fir", "rgb_mir")}
    assert splits["fir"] == splits["rgb_mir"]
    rows = read_rows(folder / "boxes.csv")
    scenes = {}
    for row in rows:
        scenes.setdefault((row["model"], row["spectrum"]), set()).add(row["sample_id"])
    assert set(scenes) == {("fir", "fir"), ("rgb_mir", "rgb"), ("rgb_mir", "mir")}
    assert len({frozenset(ids) for ids in scenes.values()}) == 1 and next(iter(scenes.values())) <= set(splits["fir"]["test"])
    for name in ("report.html", "summary.csv", "attribution.csv"):
        assert (folder / name).is_file(), name
    assert len(list((folder / "scenes").glob("*.png"))) == 2
    # Run again: the trained nets are reused, not trained again.
    stamp = (tmp_path / "out" / "fir" / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    main(["--config", str(config)])
    assert (tmp_path / "out" / "fir" / "checkpoints" / "last.ckpt").stat().st_mtime_ns == stamp


def test_the_shipped_reproduction_configs_parse_and_name_existing_recipes():
    for name in ("reproduce_demo.yaml", "reproduce_paper.yaml"):
        args = build_parser().parse_args(["--config", str(REPO / "configs" / name)])
        assert (REPO / args.train_config).is_file(), name
        assert args.explain["methods"] == ["gradcam", "gradcam_norelu", "rise", "sidu"]
