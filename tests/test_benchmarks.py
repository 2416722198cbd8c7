"""The benchmarks run (at tiny settings, on the shared trained net) and write the result files README quotes."""
import importlib
import json
import math
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

from spectral_xai.reporting.comparisons import write_comparisons
from spectral_xai.analysis.resampling import holm
from spectral_xai.analysis.pairing import PairedBox
from spectral_xai.analysis.statistics import Inference, compare, decide

from .helpers.training import REPO, run_script

sys.path.insert(0, str(REPO / "benchmarks"))
import power  # noqa: E402
from run_all import JOBS, ON_TRAINED_NET  # noqa: E402


def numbers(value):
    """Every number in a result, however deep."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for inner in value:
            yield from numbers(inner)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


# What the smoke run leaves to other tests: the demo seeds and the reproduction train nets that
# tests/test_train.py and tests/test_reproduce.py train already; that our maps equal the peers' is
# proved by the cross-check tests (tests/explainers/test_cam_family.py, test_references.py); the
# layouts section at 512 px runs the code the 128-px job's layouts section runs.
PROVED_ELSEWHERE = {"demo_seeds", "reproduction", "layouts_512px"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in JOBS if name not in PROVED_ELSEWHERE])
def test_each_benchmark_runs_quick_and_writes_its_result(name, trained_checkpoint, tmp_path, monkeypatch):
    """The benchmark's ``main`` in this process at run_all's quick settings, as run_all would call it."""
    script, _, quick = JOBS[name]
    argv = [*quick, "--results", str(tmp_path)] + (["--checkpoint", str(trained_checkpoint)] if name in ON_TRAINED_NET else [])
    monkeypatch.setattr(sys, "argv", [str(REPO / "benchmarks" / script), *argv])  # the command the result records
    monkeypatch.chdir(tmp_path)
    importlib.import_module(Path(script).stem).main(argv)
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert record["benchmark"] == name and record["command"] == shlex.join(["python", f"benchmarks/{script}", *argv])
    assert len(record["commit"]) >= 40 and record["date"] and record["figures"]
    assert all(math.isfinite(number) for number in numbers(record["figures"])), record["figures"]
    figures = record["figures"]
    if name == "explainer_cost_128px":
        assert figures["target_score"] > 0.05  # a trained net's detection, above the scoring rule's floor
        assert figures["target_in_scale"]  # at the net's own size, a detection at the objects' scale
        assert {"cost", "floor", "memory", "shared", "layouts"} <= figures.keys()
        assert set(figures["layouts"]["rise"]) == {"eager", "channels_last", "onnxruntime"}
        assert figures["layouts"]["runtime_export_seconds"] > 0
        for layout in ("channels_last", "onnxruntime"):
            rise = figures["layouts"]["rise"][layout]
            # A blank map (the quick run's few masks re-identified nothing: so on the opencv 4.12 net) has no
            # correlation, and the benchmark gives its largest difference to eager's instead.
            assert rise["map_r_to_eager"] > 0.999 if "map_r_to_eager" in rise else rise["map_difference_to_eager"] < 1e-6
        assert figures["layouts"]["insertion+deletion"]["onnxruntime"]["auc_difference_to_eager"] < 1e-4
    if name == "cpu_runtimes":
        arms = figures["128px"]
        assert arms["onnxruntime"]["largest_difference_to_eager"] < 1e-4 and arms["eager"]["largest_difference_to_eager"] == 0
        assert 0 < arms["onnxruntime"]["share_of_roofline"] and figures["roofline_gflops"] > 0
    if name == "rise_time":
        for runtime in ("torch (channels_last)", "onnxruntime"):
            assert figures[runtime]["seconds_per_box"]["median"] > 0 and abs(sum(figures[runtime]["share"].values()) - 1) < 1e-2
    if name == "train_throughput":
        assert figures["channels_last_time_over_default"]["min"] > 0 and figures["channels_last_goal"] == 0.8
    if name == "rise_convergence":
        assert figures["auto"]["0.9"]["masks"]["max"] <= 256
    if name == "wandb_media":
        assert figures["scenes_explained"] == 1 and figures["short_run"]["figures_mb"] > 0
        assert 0 < figures["short_run"]["staged_artifacts_mb"] <= figures["noise_bound"]["staged_artifacts_mb"]


def test_an_unknown_job_is_refused(tmp_path):
    done = run_script("benchmarks/run_all.py", ["--quick", "--only", "peer"], cwd=tmp_path)
    assert done.returncode == 2 and "unknown jobs ['peer']" in done.stderr


def test_readme_tables_are_those_of_the_result_files_and_the_code():
    """Every table README and docs/ quote is rendered from its file under benchmarks/results/ or from
    the code (the methods and settings pages), unedited; every result file there is quoted by one,
    and every reference table of the code is in docs/."""
    import readme_tables
    texts = [document.read_text() for document in readme_tables.DOCUMENTS]
    blocks = [(match[2], match[3]) for text in texts for match in readme_tables.BLOCK.finditer(text)]
    assert {name for kind, name in blocks if kind == "results"} <= set(readme_tables.RENDERERS)
    assert sorted(name for kind, name in blocks if kind == "generated") == sorted(readme_tables.TABLES)
    assert readme_tables.main(["--check"]) == 0
    quoted = {name for text in texts for name in re.findall(r"benchmarks/results/(\w+)\.json", readme_tables.render(text))}
    assert quoted == {path.stem for path in readme_tables.RESULTS.glob("*.json")}


def test_power_sizes_a_run_from_its_primary_comparisons(tmp_path, monkeypatch):
    """power.py on a finished run's comparisons.json (written by the report's own writer): per primary
    comparison the scenes needed at the run's boxes per scene and at one box per scene, which needs
    more scenes where the boxes of a scene disagree; exploratory comparisons are not sized."""
    rng = np.random.default_rng(0)
    rows = []
    for name, within in (("noisy", 0.08), ("steady", 0.01)):
        pairs = [PairedBox(f"{s:02d}", (float(offset + rng.normal(0, within)),))
                 for s, offset in enumerate(rng.normal(-0.03, 0.02, 12)) for _ in range(4)]
        rows.append(compare("methods", "primary", "net on mir", "deletion_auc", name, "random", pairs, Inference()))
    decide(rows, holm, Inference())
    rows.append(compare("methods", "exploratory", "net on mir", "deletion_auc", "random", "box", pairs, Inference()))
    (tmp_path / "run").mkdir()
    write_comparisons(tmp_path / "run", rows)
    argv = [str(tmp_path / "run"), "--results", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [str(REPO / "benchmarks" / "power.py"), *argv])
    power.main(argv)
    figures = json.loads((tmp_path / "power.json").read_text())["figures"]
    noisy, steady = figures["comparisons"]
    assert (figures["family"], figures["margin"], noisy["boxes_per_scene"]) == (2, 0.02, 4)
    assert noisy["scenes_needed_one_box"] > noisy["scenes_needed"] and steady["scenes_needed_one_box"] >= steady["scenes_needed"]
    assert noisy["within_scene_icc"] < steady["within_scene_icc"]
    assert figures["scenes_needed_max"] == max(noisy["scenes_needed"], steady["scenes_needed"])
    assert figures["primary_disagreeing_with_interval"] == 0  # written by decide: each interval at its Holm level
    for c in rows:  # the same comparisons as a family of nets would make them: scenes cannot size them
        c.test = "t"
    (tmp_path / "over_nets").mkdir()
    write_comparisons(tmp_path / "over_nets", rows)
    with pytest.raises(SystemExit, match="every primary comparison is over nets"):
        power.main([str(tmp_path / "over_nets"), "--results", str(tmp_path)])
    with pytest.raises(SystemExit, match="comparisons.json: not found"):
        power.main([str(tmp_path / "nothing")])


def test_the_reproduction_tables_summarise_over_nets_and_spectrum_pairs(monkeypatch):
    """README's reproduction tables from a known record: the randomisation test's median and range over
    nets (a net whose maps were all blank counted as blank, not as a correlation), the spectrum
    contrasts' verdicts counted per pair and AUC, the metrics' reliability over nets x spectra."""
    import reproduction
    import reproduction_tables
    nan = float("nan")
    sanity = {"stages": ["class head", "backbone"], "rows": [
        {"model": net, "spectrum": "mir", "method": "rise", "rule": "anchor", "stage": stage,
         "spearman": {"mean": value, "std": 0.0}, "spearman_support": {"mean": value, "std": 0.0},
         "compared": int(value == value), "blank": int(value != value), "failed": 0}
        for net, values in (("mir-seed0", (0.9, 0.2)), ("mir-seed1", (0.5, nan)), ("fir-seed0", (0.7, 0.4)))
        for stage, value in zip(["class head", "backbone"], values)]}
    contrast = {"scope": "rise", "a": "mir on mir", "b": "rgb on rgb", "scenes": 12, "low": nan, "high": nan, "p_adjusted": None,
                "mean_difference": nan, "note": "2 x 2 nets: bootstrap over training seeds, then scenes; fewer than 3 seeds"}
    contrasts = [contrast | {"metric": "deletion_auc_normalised", "boxes": 20, "verdict": "better"},
                 contrast | {"metric": "deletion_auc_normalised", "boxes": 18, "verdict": "undecided", "scope": "sidu"},
                 contrast | {"metric": "insertion_auc_normalised", "boxes": 20, "verdict": "equivalent"}]
    reliability = [{"model": net, "spectrum": "mir", "targets": "detection", "measure": "alpha across scenes",
                    "metric": "deletion_auc", "value": value, "n": "30"} for net, value in (("a", "0.1"), ("b", "0.5"), ("c", ""))]
    record = {"benchmark": "reproduction", "command": "python benchmarks/reproduction.py", "commit": "0" * 40,
              "date": "2026-12-02", "machine": {"device": "cpu", "cpu_cores": 2, "torch_threads": 2},
              "figures": {"sanity_every_net": {"stages": sanity["stages"], "methods": reproduction.sanity_over_nets(sanity)},
                          "spectrum_contrasts": contrasts, "metric_reliability": reliability}}
    monkeypatch.setattr(reproduction_tables, "load", lambda name: record)
    assert "| rise | 0.70 (0.50 to 0.90) | 0.30 (0.20 to 0.40) | 1 | 5 |" in reproduction_tables.sanity_every_net()
    verdicts = reproduction_tables.spectrum_verdicts()
    assert "| mir on mir vs rgb on rgb | 12 | 20 | 1 better, 1 undecided | 1 equivalent |" in verdicts
    assert "verdicts of the 2 methods" in verdicts and "Every row: fewer than 3 seeds." in verdicts
    assert "| alpha across scenes | deletion auc | 0.10 / 0.30 / 0.50 | 2 of 3 | 30 |" in reproduction_tables.metric_reliability()


def test_a_verdict_that_disagrees_with_its_interval_is_counted():
    """The reproductions' check that every primary verdict agrees with its interval: better or worse
    only where it excludes 0 on the side the metric calls so, equivalent only inside the margin, undecided where it includes 0; an
    interval that is NaN (below 2 units) holds no verdict to disagree with."""
    import reproduction
    from spectral_xai.analysis.statistics import Comparison

    def compared(verdict: str, low: float, high: float) -> Comparison:
        return Comparison(table="methods", family="primary", scope="mir on mir", metric="deletion_auc", a="gradcam",
                          b="random", scenes=20, boxes=40, nonzero=40, mean_difference=(low + high) / 2, low=low, high=high,
                          p=None, p_equivalence=None, margin=0.02, repeat_sd=float("nan"), scene_sd=0.05,
                          between_scenes=0.0, within_scenes=0.0, within_scene_icc=0.0, boxes_per_scene=2.0, verdict=verdict)

    # Deletion AUC: lower is better, so a's interval below 0 is "better".
    agreeing = [compared("better", -0.05, -0.01), compared("worse", 0.01, 0.05), compared("undecided", -0.01, 0.03),
                compared("equivalent", -0.015, 0.01), compared("too few scenes to compare", float("nan"), float("nan"))]
    assert reproduction.disagreeing(agreeing) == 0
    wrong = [compared("better", -0.01, 0.05), compared("undecided", 0.01, 0.05), compared("equivalent", -0.01, 0.03),
             compared("better", 0.01, 0.05), compared("worse", -0.05, -0.01)]
    assert reproduction.disagreeing(agreeing + wrong) == len(wrong)


def test_the_known_cause_tables_show_scores_verdicts_and_the_truths_verdicts(monkeypatch):
    """README's known-cause tables from a known record: each method's scores with their intervals and
    its verdicts against the baselines, the boxes with causes per net (detections only), the metrics
    with the truth, the pairs that differ, the control and the spectrum truth."""
    import known_cause_tables
    stats = {"mean": 0.31, "low": 0.1, "high": 0.5, "n": 20}
    verdict = {"scope": "mir-seed0 on mir", "metric": "part_ranking", "a": "rise", "scenes": 20}
    truth = {"model": "mir-seed0", "spectrum": "mir", "targets": "detection", "scenes": "20", "low": "-0.1", "high": "0.3"}
    record = {"benchmark": "known_cause_reproduction", "command": "python benchmarks/known_cause_reproduction.py",
              "commit": "0" * 40, "date": "2026-12-06", "machine": {"device": "cpu", "cpu_cores": 2, "torch_threads": 2},
              "figures": {
                  "nets": {"mir-seed0": {"training_seconds": 140, "val_map_50": 0.61}},
                  "judged": [{"model": "mir-seed0", "spectrum": "mir", "methods": {"rise": {"part_ranking": stats}}}],
                  "verdicts": [verdict | {"b": "box", "verdict": "better"}, verdict | {"b": "edges", "verdict": "undecided"},
                               verdict | {"b": "gradcam", "verdict": "worse"}],
                  "known_causes": [{"model": "mir-seed0", "spectrum": "mir", "targets": "detection", "boxes": "40",
                                    "with_known_causes": "30", "measurable": "28", "running_cars": "9", "cue_measurable": "8",
                                    "median_cue_effect": "0.310", "median_running_car_score": "0.550"},
                                   {"model": "mir-seed0", "spectrum": "mir", "targets": "missed", "boxes": "3"}],
                  "metric_truth": [truth | {"compared": "with the truth", "metric": "deletion_auc", "against": "part_ranking",
                                            "mean_tau": "0.1", "verdict": "undecided"},
                                   truth | {"compared": "with another metric", "metric": "deletion_auc_road",
                                            "against": "deletion_auc", "mean_tau": "0.2", "low": "0.05", "verdict": "closer"}],
                  "negative_controls": [{"model": "mir-seed0", "spectrum": "mir", "method": "gradcam", "metric": "deletion_auc",
                                         "method_better": "15", "scenes": "20", "p": "0.021"}],
                  "spectrum_truth": [], "wall_seconds": {"reproduce": 2400}}}
    monkeypatch.setattr(known_cause_tables, "load", lambda name: record)
    assert "| mir-seed0 on mir | rise | 0.31 [0.10, 0.50] | - | - | - | >box ?edges |" in known_cause_tables.known_cause_methods()
    counts = known_cause_tables.known_cause_counts()
    assert "| mir-seed0 on mir | 0.61 | 30 of 40 | 28 | 8 of 9 | 0.310 | 0.550 | 140 |" in counts and "2400 s (40 min) on this machine, 140 s of it training" in counts
    assert counts.count("| mir-seed0 on mir |") == 1  # the missed objects' row is not a detection row
    assert "| mir-seed0 on mir | deletion_auc | 20 | +0.10 [-0.10, +0.30] | undecided |" in known_cause_tables.metric_truth()
    assert "| deletion_auc_road | deletion_auc | +0.20 [+0.05, +0.30] | closer |" in known_cause_tables.metric_pairs()
    assert "| mir-seed0 on mir | gradcam | deletion_auc | 15 of 20 | 0.021 |" in known_cause_tables.negative_controls()
