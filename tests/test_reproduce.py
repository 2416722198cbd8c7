"""reproduce.py: nets of different spectra on one split, explained together."""
import json
from pathlib import Path
import signal

import pytest
import torch

from spectral_xai.explain_cli import joined_lists
from spectral_xai.reproduce import build_parser, chosen_nets, epochs_done, explanation_options, main, training_seeds

from .helpers.outputs import read_rows
from .helpers.signals import hold_at, signal_when_held
from .helpers.training import FAST_TRAIN, REPO, run_ids, run_script


@pytest.mark.slow
def test_reproduce_interrupted_during_its_second_net_resumes_it_and_explains_finished_nets(synthetic_root, tmp_path):
    """The first run is stopped by SIGTERM in the middle of the second net's first epoch; the second
    run skips the finished net, resumes the stopped one in its W&B run, and explains both on one split."""
    out, marker = tmp_path / "out", tmp_path / "stopped"
    config = tmp_path / "reproduce.yaml"
    config.write_text(json.dumps({
        "train_config": str(REPO / "configs/demo.yaml"), "output": str(out), "root": str(synthetic_root),
        "nets": {"fir": ["--data.spectra", "[fir]"], "rgb_mir": ["--data.spectra", "[rgb, mir]", "--trainer.callbacks", hold_at(1, marker)]},
        "train_args": FAST_TRAIN,
        "explain": {"methods": ["gradcam"], "num_images": 2, "step": 0.5, "target_min_score": 0.0, "boxes": "top"}}))
    status, log = signal_when_held([str(REPO / "reproduce.py"), "--config", str(config)], marker, tmp_path)
    assert status == 128 + signal.SIGTERM, log[-3000:]
    last = {name: out / name / "checkpoints" / "last.ckpt" for name in ("fir", "rgb_mir")}
    assert epochs_done(last["fir"]) == 1 and epochs_done(last["rgb_mir"]) == 0
    stopped = torch.load(last["rgb_mir"], weights_only=True)
    assert stopped["global_step"] == 1 and not (out / "explain").exists()
    fir_stamp = last["fir"].stat().st_mtime_ns

    second = run_script("reproduce.py", ["--config", str(config)], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "fir: " in second.stderr and "has reached its planned epochs (1); not trained again" in second.stderr
    assert "rgb_mir: " in second.stderr and "stopped after 0 of 1 planned epochs; resuming it" in second.stderr
    assert last["fir"].stat().st_mtime_ns == fir_stamp and epochs_done(last["rgb_mir"]) == 1
    assert torch.load(last["rgb_mir"], weights_only=True)["global_step"] == 2  # the epoch's other step, none twice
    assert len(run_ids(out / "rgb_mir")) == 1  # the resumed net went on in its W&B run

    folder = out / "explain"
    splits = {name: json.loads((out / name / "checkpoints" / "split.json").read_text()) for name in last}
    assert splits["fir"] == splits["rgb_mir"]
    scenes = {}
    for row in read_rows(folder / "boxes.csv"):
        scenes.setdefault((row["model"], row["spectrum"]), set()).add(row["sample_id"])
    assert set(scenes) == {("fir", "fir"), ("rgb_mir", "rgb"), ("rgb_mir", "mir")}
    assert len({frozenset(ids) for ids in scenes.values()}) == 1 and next(iter(scenes.values())) <= set(splits["fir"]["test"])
    for name in ("report.html", "summary.csv", "attribution.csv"):
        assert (folder / name).is_file(), name
    assert len(list((folder / "scenes").glob("*.png"))) == 2


@pytest.mark.parametrize("argv, message", [
    (["--nets", "rgb", "fri"], "unknown net 'fri'; did you mean 'fir'?"),
    (["--explain", "{methods: [gradcm]}"], "unknown saliency method 'gradcm'; did you mean 'gradcam'?"),
    (["--explain", "{method: [gradcam]}"], "unknown explain option 'method'; did you mean 'methods'?"),
    (["--explain", "{method_settings: {rise: {n_masks: 0}}}"], "rise: n_masks 0 must be a number of masks >= 1 or 'auto'"),
    (["--explain", "{method_settings: {gradcam: {layer: class_nett}}}"], "layer 'class_nett' is not a module of the net"),
    (["--train_args", "--trainer.max_epochs 1", "--explain", "{num_images: 0}"], "num_images 0 must be >= 1"),
    (["--seeds", "0", "0"], "seeds: name each training seed once"), (["--seeds", "0,x"], "as a whole number"),
])
def test_reproduce_refuses_bad_settings_before_training_anything(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as stopped:
        main(["--train_config", str(REPO / "configs/demo.yaml"), "--output", str(tmp_path / "out"), *argv])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_nets_and_training_arguments_typed_the_way_people_type_them():
    for typed in (["rgb", "fir"], ["rgb,fir"], ["[rgb, fir]"]):
        args = build_parser().parse_args(joined_lists(["--train_config", "x.yaml", "--nets", *typed], ("--nets",)))
        assert list(chosen_nets(args.nets)) == ["rgb", "fir"]
    assert chosen_nets({"mine": "--data.spectra [fir]"}) == {"mine": ["--data.spectra", "[fir]"]}
    assert list(chosen_nets(None)) == ["rgb", "nir", "mir", "fir", "rgb_mir"]


def test_the_shipped_reproduction_configs_parse_and_name_existing_recipes():
    for name in ("reproduce_demo.yaml", "reproduce_paper.yaml"):
        args = build_parser().parse_args(["--config", str(REPO / "configs" / name)])
        assert (REPO / args.train_config).is_file(), name
        assert args.explain["methods"] == ["gradcam", "gradcam_norelu", "rise", "sidu"]
        assert len(training_seeds(args.seeds)) == 3
        settings, run = explanation_options(args.explain)
        assert settings.boxes == {"reproduce_demo.yaml": 8, "reproduce_paper.yaml": "all"}[name] and run.sanity_check


def test_a_reproduction_explains_every_detection_unless_told_otherwise():
    assert explanation_options(None)[0].boxes == "all" and explanation_options({"boxes": "top"})[0].boxes == "top"


def test_the_design_checks_default_spreads_are_the_demos_measured_ones():
    """DEMO_SPREADS is what benchmarks/demo_spreads.py measured, not a number typed in."""
    import json
    from spectral_xai.reproduce import DEMO_SPREADS
    figures = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "demo_spreads.json").read_text())["figures"]
    assert DEMO_SPREADS == (figures["seed_sd"], figures["scene_sd"])
