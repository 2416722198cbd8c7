"""Which metric agrees with the known causes, on results made by hand where the truth is set: a metric
that ranks maps as the truth does gets tau 1, one that ranks them by the map's area does not."""
import math

import numpy as np
import pytest
import torch

from spectral_xai.analysis.truth import COLUMNS, metric_truth, scene_taus
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explaining import Explainer
from spectral_xai.metrics.known_causes import part_ranking
from spectral_xai.metrics.registry import Metric, register, unregister

from ..helpers.box_results import result
from ..helpers.region_detector import LABEL, SIZE, region_detector
from ..helpers.tile_causes import TileCauses

METHODS = ["gradcam", "rise", "sidu", "scorecam", "random", "box"]


def _scenes(scenes: int = 30, seed: int = 0):
    """Each map has a true quality (its part ranking, drawn per scene) and an area; deletion follows
    the truth (lower where the map is truer), insertion follows the area alone."""
    rng = np.random.default_rng(seed)
    results = []
    for scene in range(scenes):
        truth = rng.permutation(len(METHODS)) / len(METHODS)
        for box in range(2):
            for method, quality in zip(METHODS, truth):
                area = float(rng.uniform(0, 1))
                one = result(str(scene), method, deletion=0.5 - 0.4 * quality + 0.01 * box, insertion=area, rank=box)
                one.scores |= {"part_ranking": float(quality), "pointing_game": float(area > 0.5)}
                results.append(one)
    return results


def test_a_metric_that_ranks_as_the_truth_gets_tau_one_and_one_that_ranks_by_area_about_zero():
    results = _scenes()
    assert all(tau == pytest.approx(1.0) for tau in scene_taus(results, METHODS, "deletion_auc").values())
    rows = {(r["compared"], r["metric"], r["against"]): r
            for r in metric_truth({("net", "mir", "detection"): results}, METHODS, resamples=500)}
    deletion = rows["with the truth", "deletion_auc", "part_ranking"]
    assert deletion["mean_tau"] == pytest.approx(1.0) and deletion["verdict"] == "agrees" and deletion["scenes"] == 30
    insertion = rows["with the truth", "insertion_auc", "part_ranking"]
    assert abs(insertion["mean_tau"]) < 0.15 and insertion["verdict"] == "undecided"
    assert insertion["low"] < 0 < insertion["high"]
    pair = rows["with another metric", "deletion_auc", "insertion_auc"]
    assert pair["verdict"] == "closer" and pair["mean_tau"] > 0.8
    assert set(rows["with the truth", "deletion_auc", "part_ranking"]) == set(COLUMNS)


def test_a_metric_that_ranks_against_the_truth_disagrees_and_intervals_are_simultaneous():
    results = _scenes()
    for r in results:  # deletion now rises with the truth: the metric calls the truest maps the worst
        r.scores["deletion_auc"] = 1 - r.scores["deletion_auc"]
    rows = metric_truth({("net", "mir", "detection"): results}, METHODS, resamples=500)
    deletion = next(r for r in rows if r["metric"] == "deletion_auc" and r["compared"] == "with the truth")
    assert deletion["mean_tau"] == pytest.approx(-1.0) and deletion["verdict"] == "disagrees"
    # three metrics share one family: the area metric's interval is wider than a single 95 % one
    insertion = next(r for r in rows if r["metric"] == "insertion_auc" and r["compared"] == "with the truth")
    taus = np.array(list(scene_taus(results, METHODS, "insertion_auc").values()))
    single = np.percentile(np.random.default_rng(0).choice(taus, (500, len(taus))).mean(axis=1), (2.5, 97.5))
    assert insertion["high"] - insertion["low"] > single[1] - single[0]


def test_without_known_causes_there_is_nothing_to_compare():
    results = [result(str(s), m, 0.2, 0.5) for s in range(5) for m in METHODS]
    assert metric_truth({("net", "mir", "detection"): results}, METHODS) == []
    few = _scenes(scenes=1)
    (row,) = [r for r in metric_truth({("net", "mir", "detection"): few}, METHODS)
              if r["metric"] == "deletion_auc" and r["compared"] == "with the truth"]
    assert row["verdict"] == "too few scenes" and math.isnan(row["low"])


def map_area(scored) -> float:
    """A metric that ranks maps by how much of the image they cover, and nothing else."""
    return float((scored.saliency > 0.5).float().mean())


def test_on_the_region_detector_a_metric_that_ranks_by_the_truth_gets_tau_one_and_map_area_does_not():
    """The region detector's one cause is known by construction (tests/helpers/tile_causes.py): a
    metric that repeats the truth's own score agrees at tau 1 in every scene; one that measures the
    map's area does not."""
    register(Metric("truth_echo", "detector", False, part_ranking, "truth echo", "echo"))
    register(Metric("map_area", "detector", False, map_area, "map area", "area"))
    try:
        settings = ExplainSettings(["gradcam", "rise", "sidu"], method_settings={"rise": {"n_masks": 64}},
                                   known_causes=True, step=0.5, batch_size=8, target_min_score=0.0)
        explainer, results = Explainer(settings), []
        for scene in range(6):
            image = 0.6 + 0.4 * torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(10 + scene))
            sample = {"image": image, "sample_id": f"{scene:06d}", "spectrum": "mir", "causes": TileCauses(image),
                      "boxes": torch.tensor([[48.0, 48.0, 56.0, 56.0]]), "labels": torch.tensor([LABEL])}
            results += explainer.explain(region_detector(), sample).results
        rows = {(r["compared"], r["metric"]): r
                for r in metric_truth({("net", "mir", "detection"): results}, list(explainer.methods), resamples=300)}
    finally:
        unregister("truth_echo")
        unregister("map_area")
    echo, area = rows["with the truth", "truth_echo"], rows["with the truth", "map_area"]
    assert echo["scenes"] == area["scenes"] == 6
    assert echo["mean_tau"] == pytest.approx(1.0) and echo["verdict"] == "agrees"
    assert area["mean_tau"] < 0.5 and area["verdict"] != "agrees"
    assert ("with the truth", "deletion_auc") in rows and ("with another metric", "deletion_auc") in rows
