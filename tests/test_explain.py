"""explain.py across per-spectrum, mixed and early-fusion checkpoints trained briefly on synthetic data."""
import fractions
import json
import math
import re
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from spectral_xai.cached_nets import trained_net
from spectral_xai.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from spectral_xai.data_modules.reader import DatasetError
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explain_cli import build_parser, joined_lists, main
from spectral_xai.explainers import REGISTRY
from spectral_xai.posthoc import report_figures
from spectral_xai.posthoc.output import write_manifest
from spectral_xai.posthoc import explain_checkpoints, requested_spectra
from spectral_xai.settings import SettingsError

from .helpers.hostile import RunsCode
from .helpers.outputs import explain_py, read_rows

# The other methods are left to the run of every method (test_explain_every_method.py).
FAST_SETTINGS = ExplainSettings(methods=["gradcam", "rise"], method_settings={"rise": {"n_masks": 16}}, step=0.25,
                                target_min_score=0.0, batch_size=8)
FAST = dict(settings=FAST_SETTINGS, num_images=2)
FAST_ARGS = ["--methods", "gradcam", "rise", "--num_images", "2", "--step", "0.25", "--target_min_score", "0.0", "--batch_size", "8",
             "--method_settings", '{"rise": {"n_masks": 16}}']


# One batch of one epoch on the 24 scenes of the tests' synthetic dataset: nets of every fusion to explain, fast.
TINY_RECIPE = ["--data.image_size", "128", "--data.batch_size", "2", "--data.num_workers", "0", "--data.val_fraction", "0.2",
               "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
               "--trainer.logger", "false", "--trainer.callbacks", "null", "--trainer.enable_progress_bar", "false"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A FIR, a mixed RGB+MIR and an early-fusion RGB+MIR net, from the cache of trained nets, each
    copied into a run folder of its own name (explain.py names a net by its run folder)."""
    out = tmp_path_factory.mktemp("explain_ckpts")
    made = {}
    for name, spectra, fusion in (("fir", ["fir"], "mixed"), ("rgb_mir", ["rgb", "mir"], "mixed"),
                                  ("rgb_mir_early", ["rgb", "mir"], "early")):
        cached = trained_net(spectra, args=[*TINY_RECIPE, "--data.fusion", fusion], data={"num_scenes": 24, "seed": 0})
        made[name] = Path(shutil.copytree(cached.parent, out / name / "checkpoints")) / "last.ckpt"
    return made


@pytest.fixture(scope="module")
def report(checkpoints, tmp_path_factory):
    """explain.py's main on the three nets, the two best boxes of each of two scenes, in one process
    (the script itself is run as a user runs it below and in test_explain_every_method.py)."""
    output = tmp_path_factory.mktemp("report") / "explain"
    paths = [str(checkpoints[name]) for name in ("fir", "rgb_mir", "rgb_mir_early")]
    assert main([*paths, "--output", str(output), *FAST_ARGS, "--boxes", "2"]) == 0
    return paths, output


def test_explain_writes_table_figures_curves_and_report(report):
    _, output = report
    summary = json.loads((output / "summary.json").read_text())
    assert summary["boxes"] == "best 2"
    cells = {(row["model"], row["spectrum"]) for row in summary["rows"]}
    assert cells == {("fir", "fir"), ("rgb_mir", "rgb"), ("rgb_mir", "mir"), ("rgb_mir_early", "rgb+mir")}
    assert FAST_SETTINGS.methods == ["gradcam", "rise", "random", "box"]  # the baselines beside the methods
    for row in summary["rows"]:
        for method in FAST_SETTINGS.methods:
            stats = row[method]
            assert stats["boxes"] == 2 * 2 and stats["failed"] == 0 and math.isfinite(stats["seconds"]["mean"])
            # The means stand on the maps that are not blank (these young nets' RISE maps mostly are), and say so.
            for metric in ("deletion_auc", "insertion_auc"):
                assert stats[metric]["n"] == stats["boxes"] - stats["blank"]
                if stats[metric]["n"] > 1:
                    assert stats[metric]["low"] <= stats[metric]["mean"] <= stats[metric]["high"]
        assert row["gradcam"]["blank"] == 0 and row["box"]["blank"] == 0
    csv_lines = read_rows(output / "summary.csv")
    assert len(csv_lines) == 4 and "±" in csv_lines[0]["gradcam deletion"] and "(n=4)" in csv_lines[0]["gradcam deletion"]
    assert csv_lines[0]["gradcam deletion 95% CI"].startswith("[") and csv_lines[0]["rise blank rate"]
    # Two scenes per net and spectrum decide nothing: every primary comparison is undecided, and the
    # report says that no comparison can reach 0.05 and how many scenes would decide each.
    comparisons = read_rows(output / "comparisons.csv")
    primary = [r for r in comparisons if r["family"] == "primary"]
    assert {(r["a"], r["b"]) for r in primary} == {("gradcam", "random"), ("gradcam", "box"), ("rise", "random"),
                                                   ("rise", "box"), ("gradcam", "rise")}
    # (fewer where a young net's RISE map is blank: AUCs are compared where both maps exist)
    assert all(r["verdict"] in ("undecided", "too few scenes to compare") and int(r["scenes"]) <= 2
               and (not r["p"] or float(r["p"]) >= 0.5) for r in primary)
    assert all(int(r["scenes_needed"]) > 2 for r in primary if r["scene_sd"])
    assert {r["family"] for r in comparisons if r["table"] == "spectra" or r["a"] == "random"} == {"exploratory"}
    # one net per spectrum, each its own family: every spectrum contrast says it speaks for these nets
    assert all("one net on a side" in r["note"] for r in comparisons if r["table"] == "spectra")
    page = (output / "report.html").read_text()
    assert "Which spectrum is explained better" in page
    assert "What these numbers support" in page and "Undecided, 40 of 40 primary comparisons" in page
    assert re.search(r"With [12] scenes no primary comparison can reach p &lt; 0.05 after Holm over \d+", page)
    assert {line["boxes per image"] for line in csv_lines} == {"best 2"}
    reliability = read_rows(output / "metric_reliability.csv")
    metrics = ("deletion_auc", "insertion_auc", "pointing_game", "energy_pointing_game", "odi")
    assert {(r["measure"], r["metric"]) for r in reliability} == {
        *(("alpha across scenes", m) for m in metrics), *(("alpha across scenes, baselines ranked too", m) for m in metrics),
        ("spearman within boxes", "deletion_auc vs insertion_auc"), ("spearman within boxes", "pointing_game vs energy_pointing_game")}
    assert all(int(r["n"]) <= 2 for r in reliability if r["measure"] == "alpha across scenes")  # 2 scenes per net
    assert "How far the metrics can be trusted" in page
    boxes = read_rows(output / "boxes.csv")
    assert len(boxes) == 4 * 2 * 2 * len(FAST_SETTINGS.methods)
    per_image = {(r["model"], r["spectrum"], r["sample_id"], r["method"]): [] for r in boxes}
    for row in boxes:
        per_image[row["model"], row["spectrum"], row["sample_id"], row["method"]].append(row)
    for rows in per_image.values():  # the two best boxes, best first
        assert [r["box"] for r in rows] == ["0", "1"] and float(rows[0]["score"]) >= float(rows[1]["score"])
    # One choice of scenes for every net and spectrum (the paper's figures compare the same scene).
    scenes = {(row["model"], row["spectrum"]): set() for row in boxes}
    for row in boxes:
        scenes[row["model"], row["spectrum"]].add(row["sample_id"])
    assert len({frozenset(ids) for ids in scenes.values()}) == 1, scenes
    # Spectrum attribution per box, in boxes.csv and summarised per net: the early-fusion net's
    # boxes are scored without and with each half of its stack alone.
    early = [row for row in boxes if row["model"] == "rgb_mir_early"]
    assert all(row["score_without_rgb"] and row["score_alone_mir"] and not row["score_alone_fir"] for row in early)
    fir = [row for row in boxes if row["model"] == "fir"]
    for row in fir:  # a single spectrum alone is the image itself, scored by the rule (floor 0.05)
        score = float(row["score"])
        assert float(row["score_alone_fir"]) == pytest.approx(score if score >= 0.05 else 0.0, abs=1e-3)
    # Each AUC over the box's unperturbed score (for the FIR net alone on FIR, its score alone), and
    # its gain over the random map on the same box.
    random = {(r["model"], r["spectrum"], r["sample_id"], r["box"]): r for r in boxes if r["method"] == "random"}
    for row in fir:
        if row["deletion_auc_normalised"] and float(row["deletion_auc"]) > 1e-3:
            full = float(row["deletion_auc"]) / float(row["deletion_auc_normalised"])
            assert full == pytest.approx(float(row["score_alone_fir"]), abs=2e-3)
            assert float(row["insertion_auc"]) / float(row["insertion_auc_normalised"]) == pytest.approx(full, rel=2e-3)
        chance = random[row["model"], row["spectrum"], row["sample_id"], row["box"]]
        if row["method"] == "random":
            assert row["deletion_gain_over_random"] == row["insertion_gain_over_random"] == ""
        else:
            assert float(row["deletion_gain_over_random"]) == pytest.approx(
                float(chance["deletion_auc"]) - float(row["deletion_auc"]), abs=2e-4)
            assert float(row["insertion_gain_over_random"]) == pytest.approx(
                float(row["insertion_auc"]) - float(chance["insertion_auc"]), abs=2e-4)
    attribution = {(r["model"], r["spectrum"], r["input spectrum"]) for r in read_rows(output / "attribution.csv")}
    assert attribution == {("fir", "fir", "fir"), ("rgb_mir", "rgb", "rgb"), ("rgb_mir", "mir", "mir"),
                           ("rgb_mir_early", "rgb+mir", "rgb"), ("rgb_mir_early", "rgb+mir", "mir")}
    box_pngs = sorted((output / "boxes").glob("*.png"))
    curve_pngs = sorted((output / "curves").glob("*.png"))
    assert len(box_pngs) == 4 * 2 and len(curve_pngs) == 4 * len(FAST_SETTINGS.methods)
    # A grid per chosen scene: rows fir, rgb_mir on rgb, on mir, and the early-fusion stack's two spectra.
    scene_pngs = sorted((output / "scenes").glob("*.png"))
    assert [p.stem for p in scene_pngs] == sorted(next(iter(scenes.values())))
    # A box figure holds a row per explained box; the grid those of 5 spectrum rows.
    row_height = Image.open(output / "boxes" / f"fir_fir_{scene_pngs[0].stem}.png").height
    assert Image.open(scene_pngs[0]).height == pytest.approx(5 * row_height, rel=0.1)
    html = (output / "report.html").read_text()
    for png in box_pngs + scene_pngs:  # linked, each a link to itself at full size
        name = png.relative_to(output).as_posix()
        assert f'<a href="{name}"><img src="{name}"' in html
    for png in curve_pngs:  # each method's own curves stay files, named in the page
        assert png.name in html
    assert "<td>boxes per image (of each kind)</td><td>best 2</td>" in html
    assert not list(output.parent.glob(".explain-*")), "the scratch folder is left behind"


@pytest.mark.slow
def test_two_processes_write_the_report_of_one(trained_checkpoint, tmp_path):
    """explain.py --devices 2 on CPU: two processes (Fabric's ddp_spawn, gloo) each explain one of the
    two scenes; the gathered report has the one-process run's rows (numbers up to the float rounding
    of another thread count). On the shared trained net, whose boxes score above the rule's floor, so
    that the AUCs compared are a detection's, not zeros."""
    args = ["--methods", "gradcam", "rise", "--baselines", "false", "--method_settings", '{"rise": {"n_masks": 32}}', "--num_images", "2",
            "--step", "0.25", "--boxes", "2", "--batch_size", "8"]
    single, output = tmp_path / "explain1", tmp_path / "explain2"
    assert main([str(trained_checkpoint), "--output", str(single), *args]) == 0
    result = explain_py(str(trained_checkpoint), "--output", str(output), *args, "--devices", "2", "--accelerator", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = read_rows(single / "boxes.csv"), read_rows(output / "boxes.csv")
    assert len(one) == len(two) == 2 * 2 * 2
    assert all(float(row["score"]) >= 0.05 for row in one) and all(float(row["insertion_auc"]) > 0.05 for row in one)
    numbers = {"insertion_auc", "deletion_auc", "score", "x1", "y1", "x2", "y2", *(k for k in one[0] if k.startswith("score_"))}
    for a, b in zip(one, two):
        assert {k: v for k, v in a.items() if k not in numbers | {"seconds"}} == \
               {k: v for k, v in b.items() if k not in numbers | {"seconds"}}
        for key in numbers:
            assert (a[key] == b[key]) if not a[key] else float(a[key]) == pytest.approx(float(b[key]), abs=2e-3), key
    assert sorted(p.name for p in (output / "boxes").glob("*.png")) == sorted(p.name for p in (single / "boxes").glob("*.png"))
    assert (output / "report.html").is_file() and read_rows(output / "summary.csv")[0]["boxes per image"] == "best 2"


def _models(output) -> set[str]:
    return {row["model"] for row in json.loads((output / "summary.json").read_text())["rows"]}


def test_negative_controls_are_rows_of_their_own_scored_and_counted_per_metric(checkpoints, tmp_path):
    """``--negative_controls gradcam``: Grad-CAM's maps on the randomised net are rows of boxes.csv
    and Table 2 beside the methods, outside the primary comparisons, and negative_controls.csv says
    per metric in how many scenes Grad-CAM's own map ranks above them."""
    output = tmp_path / "explain"
    assert main([str(checkpoints["fir"]), "--output", str(output), *FAST_ARGS, "--negative_controls", "gradcam"]) == 0
    boxes = read_rows(output / "boxes.csv")
    controls = [r for r in boxes if r["method"] == "gradcam@random_net"]
    assert len(controls) == 2 and all(r["deletion_auc"] and r["insertion_auc"] for r in controls)
    mine = {r["sample_id"]: r for r in boxes if r["method"] == "gradcam"}
    assert all(c["score"] == mine[c["sample_id"]]["score"] for c in controls)  # scored on the trained net: same box
    assert "gradcam@random_net" in json.loads((output / "summary.json").read_text())["rows"][0]
    assert not any("@random_net" in (r["a"], r["b"]) for r in read_rows(output / "comparisons.csv") if r["family"] == "primary")
    counted = read_rows(output / "negative_controls.csv")
    assert {r["metric"] for r in counted} >= {"deletion_auc", "insertion_auc"}
    assert all(r["method"] == "gradcam" and r["control"] == "gradcam@random_net" and r["scenes"] == "2"
               and 0 <= int(r["method_better"]) <= 2 for r in counted)
    assert "Negative controls" in (output / "report.html").read_text()


@pytest.mark.slow
def test_known_causes_on_rendered_scenes_end_to_end(trained_checkpoint, checkpoints, tmp_path):
    """``--known_causes true`` on the shared MIR net and the early-fusion net (both trained on rendered
    scenes): the report's known-cause sections with their files, the count of boxes with known causes,
    an example figure with the parts outlined and, for the fused input, each spectrum's true share
    against spectrum attribution (the annotated objects it missed are explained too, so that the
    briefly trained fused net has boxes of annotated objects)."""
    shared = Path(shutil.copytree(trained_checkpoint.parent, tmp_path / "shared" / "checkpoints")) / "last.ckpt"
    output = tmp_path / "explain"
    assert main([str(shared), str(checkpoints["rgb_mir_early"]), "--output", str(output), *FAST_ARGS, "--known_causes", "true",
                 "--targets", "detections,missed", "--boxes", "2", "--target_min_score", "0.2", "--num_images", "4"]) == 0
    html = (output / "report.html").read_text()
    for title in ("Against the known causes", "Which metric agrees with the known causes", "Which spectrum truly carries"):
        assert title in html, title
    counted = [row for row in read_rows(output / "known_causes.csv") if row["model"] == "shared"]
    assert sum(int(row["with_known_causes"]) for row in counted) >= 1 and sum(int(row["measurable"]) for row in counted) >= 1
    assert all(0 <= int(row["cue_measurable"]) <= int(row["running_cars"]) for row in counted)
    assert any(p.name.startswith("shared_mir_") for p in (output / "known_causes").glob("*.png"))
    fused = [row for row in read_rows(output / "spectrum_truth.csv") if row["model"] == "rgb_mir_early"]
    assert {row["rendered_away"] for row in fused} >= {"object"} and all(int(row["boxes"]) >= 1 for row in fused)
    assert read_rows(output / "metric_truth.csv")


def test_checkpoints_by_glob_bracketed_list_and_config_file(checkpoints, tmp_path):
    """explain.py's argument handling, in this process (the subprocess runs above and below cover
    the script itself)."""
    folder = checkpoints["fir"].parents[2]
    fast = ["--methods", "[gradcam]", "--num_images", "1", "--step", "0.5", "--target_min_score", "0.0"]
    assert main([str(folder / "*" / "checkpoints" / "last.ckpt"), "--output", str(tmp_path / "glob"), *fast]) == 0
    assert _models(tmp_path / "glob") == {"fir", "rgb_mir", "rgb_mir_early"}
    assert main(["--checkpoints", json.dumps([str(checkpoints["fir"])]), "--output", str(tmp_path / "list"), *fast]) == 0
    assert _models(tmp_path / "list") == {"fir"}
    config = tmp_path / "explain.yaml"
    config.write_text(f"checkpoints: [{checkpoints['rgb_mir']}]\noutput: {tmp_path / 'config'}\nmethods: [gradcam]\n"
                      "num_images: 1\nstep: 0.5\ntarget_min_score: 0.0\nspectra: [mir]\n")
    assert main(["--config", str(config)]) == 0
    assert {row["spectrum"] for row in json.loads((tmp_path / "config" / "summary.json").read_text())["rows"]} == {"mir"}


def _fails_cleanly(capsys, argv: list[str], *words: str) -> None:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines


def test_every_user_mistake_is_one_line_exit_two_and_nothing_written(checkpoints, tmp_path, capsys):
    out = tmp_path / "out"
    fir = str(checkpoints["fir"])
    # Once as the script, for the real exit status and no traceback; the other mistakes in this process.
    script = explain_py(str(tmp_path / "none.ckpt"), "--output", str(out))
    assert script.returncode == 2 and "Traceback" not in script.stderr, script.stderr[-2000:]
    assert "none.ckpt: checkpoint not found" in script.stderr.strip().splitlines()[-1]
    _fails_cleanly(capsys, [str(tmp_path / "*.ckpt"), "--output", str(out)], "*.ckpt", "no checkpoint matches")
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00" * 10)
    _fails_cleanly(capsys, [str(corrupt), "--output", str(out)], "corrupt.ckpt", "not a readable checkpoint")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1}, "datamodule_hyper_parameters": {}}, foreign)
    _fails_cleanly(capsys, [str(foreign), "--output", str(out)], "foreign.ckpt", "another model")
    _fails_cleanly(capsys, [fir, "--output", str(out), "--methods", "[gradcam, lime]"], "unknown saliency method 'lime'")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    _fails_cleanly(capsys, [fir, "--output", str(a_file)], "a_file", "not a folder")
    _fails_cleanly(capsys, ["--output", str(out)], "no checkpoint given")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "corrupt.ckpt", "foreign.ckpt"]


BAD_SETTINGS = [
    (["--method_settings", "{rise: {n_masks: -5}}"], "rise: n_masks -5 must be a number of masks >= 1 or 'auto'"),
    (["--method_settings", "{rise: {n_mask: 5}}"], "rise: unknown setting 'n_mask'; did you mean 'n_masks'?"),
    (["--method_settings", "{rise: {p: 1.5}}"], "rise: p 1.5 must be in (0, 1)"),
    (["--method_settings", "{rise: {grid: 1}}"], "rise: grid 1 must be >= 2"),
    (["--method_settings", "{rise: 5}"], "give each method's settings"),
    (["--method_settings", "{gradcam: {relu: false}}"], "gradcam: unknown setting 'relu'"),  # fixed by the name
    (["--methods", "sidu", "--method_settings", "{sidu: {layer: class_nett}}"],
     "sidu: layer 'class_nett' is not a module of the net; did you mean 'class_net'?"),
    (["--methods", "sess", "--method_settings", "{sess: {base: rsie}}"], "sess: base: unknown saliency method 'rsie'; did you mean 'rise'?"),
    (["--methods", "sess", "--method_settings", "{sess: {base: sess}}"], "sess cannot wrap itself"),
    (["--methods", "sess", "--method_settings", "{sess: {scales: 20}}"], "sess: scales 20 must be in [1, 12]"),
    (["--methods", "sess", "--method_settings", "{sess: {base_settings: {n_masks: 0}, base: rise}}"], "rise: n_masks 0 must be a number of masks >= 1 or 'auto'"),
    (["--scoring", "{rule: drsie}"], "scoring: rule 'drsie'; did you mean 'drise'?"),
    (["--scoring", "{min_scor: 0.1}"], "scoring: unknown setting 'min_scor'; did you mean 'min_score'?"),
    (["--scoring", "{rule: anchr}"], "scoring: rule 'anchr'; did you mean 'anchor'?"),
    (["--repeats", "0"], "repeats 0 must be >= 1"),
    (["--bootstrap_resamples", "50"], "bootstrap_resamples 50 must be >= 100"),
    (["--scoring", "{min_iou: 0}"], "scoring: min_iou 0.0 must be in (0, 1]"),
    (["--boxes", "tpo"], "boxes 'tpo': choose 'top', 'all' or a number of boxes >= 1"),
    (["--boxes", "0"], "boxes 0: choose 'top', 'all'"),
    (["--methods", "gradcm,rise"], "unknown saliency method 'gradcm'; did you mean 'gradcam'?"),
    (["--methods", "[gradcam, rise"], "a list option is not a list"),
    (["--spectra", "rgb", "mri"], "unknown spectrum 'mri'; did you mean 'mir'?"),
    (["--precision", "bf16"], "precision 'bf16' (choose from 32, 32-true, bf16-mixed, 16-mixed)"),
    (["--step", "0"], "step 0.0 must be in (0, 1]"),
    (["--num_images", "0"], "num_images 0 must be >= 1"),
    (["--num_images", "abc"], "num_images"),
    (["--part", "tset"], "part 'tset'; did you mean 'test'?"),
    (["--devices", "0"], "devices 0 must be >= 1"),
]


@pytest.mark.parametrize("argv, message", BAD_SETTINGS, ids=[" ".join(a) for a, _ in BAD_SETTINGS])
def test_bad_settings_are_one_line_exit_two_and_nothing_written(checkpoints, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    _fails_cleanly(capsys, [str(checkpoints["fir"]), "--output", str(out), *argv], message)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("typed", [["gradcam", "rise"], ["gradcam,rise"], ["[gradcam, rise]"], ["gradcam,", "rise"]])
def test_list_options_typed_the_way_people_type_them(typed):
    parser = build_parser()
    args = parser.parse_args(joined_lists(["--methods", *typed, "--spectra", "rgb", "mir", "runs/x/last.ckpt"]))
    assert ExplainSettings(args.methods, baselines=False).methods == ["gradcam", "rise"]
    assert requested_spectra(args.spectra) == ["rgb", "mir"] and args.paths == ["runs/x/last.ckpt"]
    assert ExplainSettings(parser.parse_args(joined_lists(["--methods", "all"])).methods).methods == sorted(REGISTRY)


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(checkpoints, tmp_path, capsys):
    evil, touched = tmp_path / "evil.ckpt", tmp_path / "touched"
    torch.save({"state_dict": {}, "hyper_parameters": RunsCode(f"touch {touched}")}, evil)
    _fails_cleanly(capsys, [str(evil), "--output", str(tmp_path / "out")],
                   "evil.ckpt: refused: loading it would call posix.system", "--trust_checkpoint")
    assert not touched.exists() and not (tmp_path / "out").exists()
    # A file of this project with one type beyond plain data: refused, then loaded when trusted.
    saved = torch.load(checkpoints["fir"], weights_only=True)
    odd = tmp_path / "odd.ckpt"
    torch.save({**saved, "note": fractions.Fraction(1, 3)}, odd)
    _fails_cleanly(capsys, [str(odd), "--output", str(tmp_path / "out")], "odd.ckpt: refused", "fractions.Fraction")
    module, _ = load_checkpoint(odd, trust=True)
    assert module.hparams.class_names == saved["hyper_parameters"]["class_names"]


def test_a_failure_while_writing_leaves_the_output_folder_untouched(checkpoints, tmp_path, monkeypatch):
    """The first net's figures are in the scratch folder when drawing the second net's fails: the
    existing output folder keeps exactly what it had, and no scratch folder is left behind."""
    output = tmp_path / "out"
    output.mkdir()
    (output / "kept.txt").write_text("an earlier run")
    write_manifest(output)  # as an earlier run leaves its folder
    draw = report_figures.explanation_figure

    def failing_on_the_second_net(explanation, *args, title_prefix="", **kwargs):
        if title_prefix.startswith("rgb_mir"):
            (scratch,) = tmp_path.glob(".out.partial-*")
            assert list((scratch / "boxes").glob("fir_*.png")), "the first net's figures were not written yet"
            raise RuntimeError("drawing failed on purpose")
        return draw(explanation, *args, title_prefix=title_prefix, **kwargs)

    monkeypatch.setattr(report_figures, "explanation_figure", failing_on_the_second_net)  # fault injection, no stand-in
    with pytest.raises(RuntimeError, match="drawing failed on purpose"):
        explain_checkpoints([checkpoints["fir"], checkpoints["rgb_mir"]], output=output, **FAST)
    assert sorted(p.name for p in output.iterdir()) == ["kept.txt", "manifest.json"]
    assert (output / "kept.txt").read_text() == "an earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch folder, no lock left


def test_a_failure_midway_leaves_no_output(checkpoints, tmp_path):
    """The first checkpoint is explained, the second has no vis_ok test ids: nothing is written."""
    copy = shutil.copytree(torch.load(checkpoints["fir"], weights_only=True)["datamodule_hyper_parameters"]["root"],
                           tmp_path / "copy")
    for png in (copy / "vis_ok").glob("*.png"):
        png.unlink()
    with pytest.raises(DatasetError, match="leaves no test samples|is empty"):
        explain_checkpoints([checkpoints["fir"]], output=tmp_path / "out", split="vis_ok", root=str(copy), **FAST)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_api_errors_name_the_problem(checkpoints, tmp_path):
    with pytest.raises(CheckpointError, match="early-fusion net takes exactly"):
        explain_checkpoints([checkpoints["rgb_mir_early"]], output=tmp_path, spectra=["rgb"], **FAST)
    with pytest.raises(SettingsError, match="unknown saliency method 'lime'"):
        explain_checkpoints([checkpoints["fir"]], output=tmp_path, settings=ExplainSettings(method_settings={"lime": {}}))


def test_a_downloaded_wandb_model_artifact_is_found_by_folder_or_reference(checkpoints, tmp_path, monkeypatch):
    """As ``wandb artifact get`` leaves one: ./artifacts/<name>:<version>/ with model.ckpt and split.json."""
    folder = tmp_path / "artifacts" / "model-1a2b3c4d:v3"
    folder.mkdir(parents=True)
    shutil.copy(checkpoints["fir"], folder / "model.ckpt")
    (folder / "split.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint(folder) == folder / "model.ckpt"
    assert resolve_checkpoint("model-1a2b3c4d:v3") == Path("artifacts/model-1a2b3c4d:v3/model.ckpt")
    assert resolve_checkpoint("me/spectral-xai/model-1a2b3c4d:v3") == Path("artifacts/model-1a2b3c4d:v3/model.ckpt")
    with pytest.raises(CheckpointError, match="model-1a2b3c4d:best: a W&B artifact that is not here .*wandb artifact get"):
        resolve_checkpoint("model-1a2b3c4d:best")
    with pytest.raises(CheckpointError, match="a folder with no checkpoint files"):
        resolve_checkpoint(tmp_path)
    # the reference ends a list option, as a path does, and names the model in every table
    out = tmp_path / "out"
    assert main(["--methods", "gradcam", "model-1a2b3c4d:v3", "--output", str(out), "--num_images", "1", "--step", "0.5",
                 "--target_min_score", "0.0", "--baselines", "false"]) == 0
    assert _models(out) == {"model-1a2b3c4d_v3"}


def test_list_methods_prints_every_method_with_its_cost_and_exits(capsys):
    """``--list_methods`` needs no checkpoint: every registered method, what it shows and its cost at
    the defaults (RISE's follows its mask count)."""
    assert main(["--list_methods"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in REGISTRY)
    assert "cost per box: 500 fwd" in printed and "cost per box: none" in printed


@pytest.mark.slow
def test_a_folder_of_your_own_images_is_explained_by_every_net(checkpoints, synthetic_root, tmp_path, capsys):
    """``--images``: files of any size and format PIL reads, no annotations; a mixed net takes them as
    its first spectrum, a stacked net takes a .npy holding every spectrum; a file a net cannot take
    is one line naming it, exit 2, nothing written."""
    import numpy as np
    from spectral_xai.data_modules.user_images import read_user_image
    rgb = read_user_image(sorted((synthetic_root / "ConvertedImages" / "rgb").glob("*.png"))[0])
    mir = read_user_image(sorted((synthetic_root / "ConvertedImages" / "mir").glob("*.png"))[0])
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray((rgb * 255).astype(np.uint8)).resize((200, 150)).save(folder / "street.jpg")
    Image.fromarray((mir * 255).astype(np.uint8)).save(folder / "street_ir.bmp")
    output = tmp_path / "mine"
    args = ["--images", str(folder), "--output", str(output), *FAST_ARGS]
    assert main([str(checkpoints["fir"]), str(checkpoints["rgb_mir"]), *args]) == 0
    rows = read_rows(output / "boxes.csv")
    assert {(row["spectrum"], row["sample_id"]) for row in rows} <= {
        (spectrum, stem) for spectrum in ("fir", "rgb") for stem in ("street", "street_ir")}
    assert {row["spectrum"] for row in rows} == {"fir", "rgb"} and {row["judged_against"] for row in rows} == {"detection"}
    assert "images" in (output / "report.html").read_text()

    stacked = tmp_path / "stacked"
    stacked.mkdir()
    np.save(stacked / "both.npy", np.concatenate([rgb, mir], axis=2))
    assert main([str(checkpoints["rgb_mir_early"]), "--images", str(stacked), "--output", str(tmp_path / "early"),
                 *FAST_ARGS]) == 0
    assert {row["spectrum"] for row in read_rows(tmp_path / "early" / "boxes.csv")} == {"rgb+mir"}
    capsys.readouterr()
    assert main([str(checkpoints["rgb_mir_early"]), *args[:2], "--output", str(tmp_path / "refused"), *FAST_ARGS]) == 2
    assert "street.jpg: 3 channels, but the net takes 6" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    assert main([str(checkpoints["fir"]), *args[:2], "--targets", "missed", "--output", str(tmp_path / "no"), *FAST_ARGS]) == 2
    assert "images of your own carry none" in capsys.readouterr().err


def test_reanalyse_gives_the_runs_comparisons_to_the_byte_and_asks_again_with_other_statistics(report, tmp_path):
    """No net: boxes.csv and analysis.json alone. Unchanged settings: comparisons.csv byte for byte;
    a wider margin changes the margin of every AUC comparison and nothing explained."""
    _, output = report
    same, wider = tmp_path / "same", tmp_path / "wider"
    assert main(["--reanalyse", str(output), "--output", str(same)]) == 0
    assert (same / "comparisons.csv").read_bytes() == (output / "comparisons.csv").read_bytes()
    assert main(["--reanalyse", str(output), "--output", str(wider), "--equivalence_margin", "0.05"]) == 0
    rows = read_rows(wider / "comparisons.csv")
    assert {r["margin"] for r in rows if r["metric"].endswith("auc")} == {"0.05"}
    assert len(rows) == len(read_rows(output / "comparisons.csv")) and (wider / "report.html").is_file()
    assert json.loads((wider / "analysis.json").read_text())["statistics"]["equivalence_margin"] == 0.05


def test_reanalyse_refuses_a_folder_that_is_no_run_and_a_setting_that_is_no_statistic(report, tmp_path, capsys):
    _, output = report
    assert main(["--reanalyse", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert "no analysis.json" in capsys.readouterr().err
    from spectral_xai.posthoc.reanalyse import ReanalysisError, reanalyse
    with pytest.raises(ReanalysisError, match="only the statistics"):
        reanalyse(output, tmp_path / "out", {"step": 0.1})


def test_a_blocked_split_and_runs_of_frames_as_the_unit_run_end_to_end_on_sequences(checkpoints, tmp_path):
    """A synthetic dataset of runs of 4 frames; the FIR net explains the test part of a blocked split
    (whole runs) with the run as the unit: every comparison counts runs, not frames."""
    from spectral_xai.data_modules.sequences import Sequences
    from spectral_xai.data_modules.synthetic import write_synthetic_dataset
    root = write_synthetic_dataset(tmp_path / "sequences", num_scenes=48, seed=3, frames_per_sequence=4)
    output = tmp_path / "explain"
    assert main([str(checkpoints["fir"]), "--output", str(output), *FAST_ARGS, "--root", str(root), "--split", "blocked",
                 "--num_images", "12", "--unit", "sequence", "--sequences_file", str(root / "sequences.csv")]) == 0
    boxes = read_rows(output / "boxes.csv")
    runs = Sequences(file=str(root / "sequences.csv")).of({r["sample_id"] for r in boxes})
    assert len(set(runs.values())) < len(runs)  # frames of one run were explained together
    rows = read_rows(output / "comparisons.csv")
    assert rows and {r["unit"] for r in rows} == {"sequence"}
    assert max(int(r["scenes"]) for r in rows) <= len(set(runs.values()))
    assert "per-sequence means" in (output / "report.html").read_text()
