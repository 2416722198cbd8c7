"""Krippendorff's alpha (the krippendorff package's) where it is undefined, known answers for the
scenes' rankings of the methods, and the report's reliability rows: alpha over the explainers alone,
correlations within boxes."""
import math

import numpy as np
import pytest
import torch

import krippendorff
from scipy.stats import spearmanr
from spectral_xai.detection import Target
from spectral_xai.results import BoxResult
from spectral_xai.metrics import CurveResult, Localisation
from spectral_xai.analysis.reliability import control_rankings, krippendorff_alpha, metric_reliability, scene_rankings

from ..helpers.box_results import scored


@pytest.mark.parametrize("level", ["ordinal", "interval"])
def test_alpha_is_nan_where_the_package_finds_it_undefined(level):
    rng = np.random.default_rng(0)
    undefined = 0
    for _ in range(40):
        data = rng.integers(1, 4, size=(rng.integers(2, 5), rng.integers(2, 6))).astype(float)
        data[rng.random(data.shape) < 0.5] = np.nan
        try:
            expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        except ValueError:  # no unit with two values, or one value only
            expected, undefined = math.nan, undefined + 1
        assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9, nan_ok=True)
    assert undefined >= 3  # the undefined cases were drawn


def test_identical_rankings_give_one_and_independent_ones_about_zero():
    ranks = np.tile(np.arange(1.0, 6.0), (30, 1))  # 30 scenes, 5 methods, the same order in each
    assert krippendorff_alpha(ranks) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    shuffled = np.array([rng.permutation(5) + 1.0 for _ in range(400)])
    assert abs(krippendorff_alpha(shuffled)) < 0.02
    assert math.isnan(krippendorff_alpha(np.full((3, 4), 2.0)))  # no variation: undefined


def _result(scene: str, method: str, deletion: float, insertion: float, pointing: float = 1.0, energy: float = 0.5,
            box: int = 0) -> BoxResult:
    target = Target(box=torch.tensor([2.0, 2.0, 6.0, 6.0]), label=0, score=0.9, class_probs=torch.zeros(1), anchor=0)
    saliency = torch.zeros(8, 8)
    saliency[2:6, 2:6] = 1.0
    curve = lambda auc: CurveResult(torch.tensor([0.0, 1.0]), torch.tensor([0.9, 0.0]), auc, 0.9)  # noqa: E731
    return BoxResult(scene, "rgb", target, box, method, saliency, 0.1, 0.1,
                     **scored(curve(insertion), curve(deletion), Localisation(pointing, energy, 0.0, "annotation")))


def test_each_scene_ranks_the_methods_best_first_from_its_boxes_means():
    results = [_result("1", "a", 0.1, 0.9), _result("1", "b", 0.3, 0.5), _result("1", "b", 0.5, 0.5, box=1),
               _result("2", "a", 0.6, 0.2), _result("2", "b", 0.2, 0.6), _result("3", "a", 0.2, 0.2)]
    # scene 3 has one method only: nothing to rank
    assert scene_rankings(results, ["a", "b"], "deletion_auc").tolist() == [[1.0, 2.0], [2.0, 1.0]]
    assert scene_rankings(results, ["a", "b"], "insertion_auc").tolist() == [[1.0, 2.0], [2.0, 1.0]]


def test_reliability_rows_say_a_consistent_metric_agrees_and_faithfulness_pairs_run_opposite():
    rng = np.random.default_rng(2)
    results = []
    for scene in range(12):
        for rank, method in enumerate(["good", "middling", "bad"]):
            deletion = 0.1 + 0.2 * rank + rng.uniform(0, 0.05)  # the same order in every scene
            results.append(_result(str(scene), method, deletion, 1 - deletion, energy=rng.uniform(0, 1)))
    rows = {(r["measure"], r["metric"]): r for r in metric_reliability({("net", "rgb", "detection"): results},
                                                                       ["good", "middling", "bad"])}
    assert rows["alpha across scenes", "deletion_auc"]["value"] == pytest.approx(1.0)
    assert rows["alpha across scenes", "deletion_auc"]["n"] == 12
    assert rows["alpha across scenes", "energy_pointing_game"]["value"] < 0.3  # drawn at random per map
    assert math.isnan(rows["alpha across scenes", "pointing_game"]["value"])  # every map scores 1: no ranking
    assert rows["spearman within boxes", "deletion_auc vs insertion_auc"]["value"] == pytest.approx(-1.0)
    assert rows["spearman within boxes", "deletion_auc vs insertion_auc"]["n"] == 12


def test_checked_maps_say_whether_an_auc_survives_the_other_fill_and_turns_around_with_the_order():
    """A deletion AUC that keeps its order of maps under the other fill (Spearman 1), an insertion AUC
    that the fill reorders at random, and a least-relevant-first deletion that mirrors the first (-1)."""
    rng = np.random.default_rng(0)
    results = []
    for scene in range(10):
        for method in ("a", "b", "c"):
            deletion = float(rng.uniform(0.1, 0.5))
            result = _result(str(scene), method, deletion, 1 - deletion)
            result.scores |= {"deletion_auc_other_fill": deletion + 0.1, "insertion_auc_other_fill": float(rng.uniform()),
                             "deletion_auc_least_relevant_first": 1 - deletion, "insertion_auc_least_relevant_first": deletion}
            results.append(result)
    rows = {r["metric"]: r["value"] for r in metric_reliability({("net", "rgb", "detection"): results}, ["a", "b", "c"])
            if r["measure"] == "spearman within boxes"}
    assert rows["deletion_auc vs deletion_auc_other_fill"] == pytest.approx(1.0)
    assert abs(rows["insertion_auc vs insertion_auc_other_fill"]) < 0.5
    assert rows["deletion_auc vs deletion_auc_least_relevant_first"] == pytest.approx(-1.0)
    unchecked = metric_reliability({("net", "rgb", "detection"): [_result("1", "a", 0.2, 0.8)]}, ["a"])
    assert not any("other_fill" in r["metric"] for r in unchecked)  # maps not checked: no such rows


def test_alpha_over_the_explainers_alone_is_near_zero_when_they_are_ranked_at_random_and_the_baselines_fixed():
    """The check the alpha with the baselines fails: random always last and box always first make
    every scene's ranking look alike whatever the explainers do."""
    rng = np.random.default_rng(3)
    results = []
    for scene in range(40):
        for method in ("gradcam", "rise", "sidu", "scorecam"):
            deletion = float(rng.uniform(0.2, 0.4))
            results.append(_result(str(scene), method, deletion, 1 - deletion))
        results += [_result(str(scene), "random", 0.9, 0.1), _result(str(scene), "box", 0.05, 0.95)]
    methods = ["gradcam", "rise", "sidu", "scorecam", "random", "box"]
    rows = {(r["measure"], r["metric"]): r for r in metric_reliability({("net", "rgb", "detection"): results}, methods,
                                                                       resamples=500)}
    alone = rows["alpha across scenes", "deletion_auc"]
    assert abs(alone["value"]) < 0.1 and alone["low"] < 0 < alone["high"] and alone["n"] == 40
    assert rows["alpha across scenes, baselines ranked too", "deletion_auc"]["value"] > 0.5


def test_two_metrics_that_agree_within_every_box_are_not_confounded_by_the_boxes_scores():
    """Deletion and insertion both scale with the box's own score: within each box they run exactly
    opposite, pooled over boxes they would seem to agree."""
    rng = np.random.default_rng(4)
    results, pooled = [], []
    for scene in range(15):
        for box in range(2):
            score = float(rng.uniform(0.2, 1.0))
            for method in ("a", "b", "c", "d"):
                share = float(rng.uniform(0.1, 0.9))
                results.append(_result(str(scene), method, score * share, score * (1 - share) + 0.0, box=box))
                pooled.append((score * share, score * (1 - share)))
    rows = {(r["measure"], r["metric"]): r for r in metric_reliability({("net", "rgb", "detection"): results},
                                                                       ["a", "b", "c", "d"], resamples=200)}
    within = rows["spearman within boxes", "deletion_auc vs insertion_auc"]
    assert within["value"] == pytest.approx(-1.0) and within["n"] == 30
    pooled = np.array(pooled)
    assert spearmanr(pooled[:, 0], pooled[:, 1]).statistic > -0.5  # pooled it reads -0.28: the boxes' scores mixed in


def test_negative_controls_are_counted_where_the_metric_ranks_the_method_above_its_control():
    results = []
    for scene in range(10):
        results += [_result(str(scene), "gradcam", 0.1, 0.8), _result(str(scene), "gradcam@random_net", 0.4, 0.8 + 0.01 * (scene % 2)),
                    _result(str(scene), "random", 0.5, 0.2)]
    rows = {r["metric"]: r for r in control_rankings({("net", "rgb", "detection"): results},
                                                     ["gradcam", "random", "gradcam@random_net"])}
    assert rows["deletion_auc"]["method_better"] == 10 and rows["deletion_auc"]["p"] == pytest.approx(0.5 ** 10)
    # insertion ties in half the scenes and favours the control in the other half: never above it
    assert rows["insertion_auc"]["method_better"] == 0 and rows["insertion_auc"]["share"] == 0.0
    assert rows["deletion_auc"]["control"] == "gradcam@random_net" and rows["deletion_auc"]["scenes"] == 10
    assert control_rankings({("net", "rgb", "detection"): results}, ["gradcam", "random"]) == []
