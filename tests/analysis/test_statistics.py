"""Comparisons with known answers. The resampling is cross-checked against SciPy's own BCa bootstrap,
permutation test and Benjamini-Hochberg; the design is checked by simulation: 200 runs with no
difference and boxes strongly correlated within scenes claim a difference in at most 5 % of runs
(a test that counts boxes as independent claims far more), a shift of the margin's size is found at
the scene count the power function names, a skewed case gets a verdict its interval agrees with,
zeros count, and equivalence needs enough scenes."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.stats import binom, wilcoxon

from spectral_xai.results import BoxResult
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explaining import Explainer
from spectral_xai.analysis.power import scenes_needed, t_power
from spectral_xai.analysis.resampling import (EXACT_SCENES, bca_interval, benjamini_hochberg, holm, sign_flip_interval,
                                     sign_flip_p, smallest_p, variance_components)
from spectral_xai.settings import SettingsError
from spectral_xai.reporting.comparisons import comparison_scalars, primary_rows, primary_sentences
from spectral_xai.analysis.contrasts import comparisons
from spectral_xai.analysis.pairing import PairedBox
from spectral_xai.analysis.statistics import TOO_FEW, Inference, compare, decide, primary_pairs

from ..helpers.box_results import result
from ..helpers.region_detector import region_detector

FAST = Inference(resamples=500, seed=0, margin=0.02)


def null_scenes(rng: np.random.Generator, scenes: int, boxes: int, icc: float, shift: float = 0.0) -> list[PairedBox]:
    """Per-box differences a - b with no difference on average (or ``shift``): each scene's own
    offset (the share ``icc`` of the variance, sd 0.05 in all) shared by its boxes."""
    sd = 0.05
    offsets = rng.normal(shift, sd * math.sqrt(icc), scenes)
    return [PairedBox(f"{s:03d}", (float(offsets[s] + rng.normal(0, sd * math.sqrt(1 - icc))),))
            for s in range(scenes) for _ in range(boxes)]


def family(rng: np.random.Generator, size: int, scenes: int, boxes: int, icc: float, shifts=()) -> list:
    rows = [compare("methods", "primary", "net on mir", "deletion_auc", f"m{i}", "random",
                    null_scenes(rng, scenes, boxes, icc, shifts[i] if i < len(shifts) else 0.0), FAST)
            for i in range(size)]
    decide(rows, holm, FAST)
    return rows


# -- resampling against SciPy ------------------------------------------------------------------

def test_the_bca_interval_agrees_with_scipys_and_is_seeded():
    values = np.random.default_rng(3).gamma(2.0, 0.05, 25)  # skewed: BCa's correction matters
    ours = bca_interval(values, 100_000, 7)
    theirs, percentile = (stats.bootstrap((values,), np.mean, n_resamples=100_000, method=method, random_state=7
                                          ).confidence_interval for method in ("BCa", "percentile"))
    # Two random streams: they agree to their Monte Carlo error (~2e-4 here), well inside the 3e-3 to
    # 5e-3 by which BCa moves the interval away from the percentile one.
    for ends in ((ours[0], theirs.low, percentile.low), (ours[1], theirs.high, percentile.high)):
        assert abs(ends[0] - ends[1]) < 8e-4 and abs(ends[1] - ends[2]) > 2e-3
    assert bca_interval(values, 1000, 7) == bca_interval(values, 1000, 7) != bca_interval(values, 1000, 8)
    assert all(math.isnan(v) for v in bca_interval([0.3], 1000, 0))  # one scene has no spread to resample
    assert bca_interval([0.2] * 5, 1000, 0) == (0.2, 0.2)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_the_exact_sign_flip_p_is_scipys_permutation_test(alternative):
    values = np.random.default_rng(1).normal(0.01, 0.02, 12)
    theirs = stats.permutation_test((values,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                    alternative=alternative).pvalue
    assert sign_flip_p(values, 0, alternative) == pytest.approx(theirs, rel=1e-9)


def test_the_sign_flip_interval_inverts_scipys_test_and_matches_the_t_and_bca_intervals_on_symmetric_data():
    """Its ends are where scipy's one-sided permutation tests of the shifted values cross 2.5 %; on
    symmetric data it lies where the t and BCa intervals of the earlier comparisons lay."""
    values = np.random.default_rng(4).normal(0.02, 0.03, 13)
    low, high = sign_flip_interval(values, 0.95)

    def p(shift: float, alternative: str) -> float:
        return stats.permutation_test((values - shift,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                      alternative=alternative).pvalue

    assert p(low, "greater") > 0.025 >= p(low - 1e-6, "greater")
    assert p(high, "less") > 0.025 >= p(high + 1e-6, "less")
    t_low, t_high = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
    bca = bca_interval(values, 20_000, 0)
    width = t_high - t_low
    for ours, t_end, bca_end in ((low, t_low, bca[0]), (high, t_high, bca[1])):
        assert abs(ours - t_end) < 0.1 * width and abs(ours - bca_end) < 0.15 * width
    wider = sign_flip_interval(values, 0.995)
    assert wider[0] < low and high < wider[1]


def test_the_monte_carlo_sign_flip_p_is_seeded_and_close_to_the_t_test():
    values = np.random.default_rng(2).normal(0.01, 0.03, EXACT_SCENES + 24)
    assert sign_flip_p(values, 5) == sign_flip_p(values, 5) != sign_flip_p(values, 6)
    assert sign_flip_p(values, 5) == pytest.approx(stats.ttest_1samp(values, 0).pvalue, abs=0.02)
    assert sign_flip_p(np.zeros(30), 0) == 1.0


def test_the_smallest_p_is_what_the_test_can_give():
    assert smallest_p(8) == 2 / 256 == sign_flip_p(np.full(8, 0.1))
    assert sign_flip_p(np.full(5, 0.1)) == 0.0625  # 5 scenes can never reach 0.05


def test_benjamini_hochberg_is_scipys_and_holm_a_hand_computed_case():
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.5]
    assert benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p, method="bh"))
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> kept monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_variance_components_recover_a_known_icc():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(400), 3)
    values = rng.normal(0, 1, 400)[groups] + rng.normal(0, 1, len(groups))
    components = variance_components(values, groups.tolist())
    assert components.icc == pytest.approx(0.5, abs=0.07) and components.per_group == 3
    assert components.sd_of_group_mean(1) == pytest.approx(math.sqrt(2), abs=0.15)


# -- the design, by simulation -------------------------------------------------------------------

@pytest.mark.slow
def test_null_runs_claim_a_difference_at_most_as_often_as_alpha_and_boxes_as_units_claim_far_more():
    """200 runs, each a primary family of 6 comparisons with no difference, 20 scenes of 4 boxes
    sharing 80 % of their variance: a run claims anything (family-wise) in <= 5 % of runs plus
    binomial slack. Counting the 80 boxes as independent (Wilcoxon on boxes, Holm) claims in far more."""
    rng = np.random.default_rng(0)
    ours = boxes_as_units = 0
    for _ in range(200):
        rows = family(rng, 6, 20, 4, icc=0.8)
        ours += any(c.verdict in ("better", "worse") for c in rows)
        by_box = holm([wilcoxon([b.difference for b in pairs]).pvalue
                       for pairs in (null_scenes(rng, 20, 4, 0.8) for _ in range(6))])
        boxes_as_units += any(p < 0.05 for p in by_box)
    slack = binom.ppf(0.99, 200, 0.05)  # the 99th percentile of claims at exactly 5 %
    print(f"family-wise false claims in 200 null runs: scenes as units {ours}, boxes as units {boxes_as_units}")
    assert ours <= slack and boxes_as_units >= 4 * slack


@pytest.mark.slow
def test_a_shift_of_the_margin_is_found_at_the_scene_count_the_power_function_names():
    """One comparison of a family of 18 (the demo's default primary family) shifted by the margin,
    the other 17 null: at the power function's scene count (its power 80.3 % by the t test; the
    sign-flip test found 79.9 % in 1000 runs of one comparison) it is found in 80 % of 200 runs, up to
    binomial noise (1st percentile of 200 runs at 80 %: 146)."""
    rng = np.random.default_rng(1)
    boxes, icc, sd = 3, 0.5, 0.05
    scene_sd = math.sqrt(sd ** 2 * icc + sd ** 2 * (1 - icc) / boxes)
    needed = scenes_needed(FAST.margin, scene_sd, 18)
    found = sum(family(rng, 18, needed, boxes, icc, shifts=[-FAST.margin])[0].verdict == "better" for _ in range(200))
    print(f"{needed} scenes: shift of {FAST.margin} found in {found} of 200 runs")
    assert found >= binom.ppf(0.01, 200, 0.8)
    # and at half the scenes it is not: the function is not merely generous
    assert sum(family(rng, 18, needed // 2, boxes, icc, shifts=[-FAST.margin])[0].verdict == "better"
               for _ in range(100)) < 70


def test_power_rises_with_scenes_and_never_counts_scenes_that_cannot_reach_the_level():
    assert t_power(0.02, 0.05, 10, 0.05) < t_power(0.02, 0.05, 40, 0.05) < t_power(0.02, 0.05, 160, 0.05)
    assert smallest_p(scenes_needed(1.0, 1e-6, 18)) <= 0.05 / 18 < smallest_p(scenes_needed(1.0, 1e-6, 18) - 1)


def test_a_skewed_case_gets_the_verdict_its_interval_supports():
    """15 differences of +0.01 and one of -0.4: mean -0.016, and a Wilcoxon test on the boxes would
    call a that is worse better (p = 0.005). Here interval, test and verdict are about the mean."""
    pairs = [PairedBox(f"{i:02d}", (0.01,)) for i in range(15)] + [PairedBox("15", (-0.4,))]
    assert wilcoxon([p.difference for p in pairs]).pvalue < 0.01
    (row,) = [compare("methods", "primary", "s", "deletion_auc", "a", "b", pairs, FAST)]
    decide([row], holm, FAST)
    assert row.mean_difference == pytest.approx(-0.015625) and row.low < 0 < row.high
    assert row.verdict == "undecided" and row.p > 0.05


def test_zero_differences_count_as_zeros_and_scenes_not_boxes_are_the_unit():
    pairs = [PairedBox(f"{i}", (0.1,)) for i in range(5)] + [PairedBox(f"{i}", (0.0,)) for i in range(5, 8)]
    pairs += [PairedBox("0", (0.1,))] * 3  # more boxes of scene 0: one scene still
    row = compare("methods", "primary", "s", "deletion_auc", "a", "b", pairs, FAST)
    assert (row.scenes, row.boxes, row.nonzero) == (8, 11, 8)
    assert row.mean_difference == pytest.approx(0.5 / 8) and row.p == pytest.approx(2 * 2 ** 3 / 2 ** 8)


def test_equivalence_is_declared_for_methods_alike_with_enough_scenes_and_not_with_three():
    rng = np.random.default_rng(4)
    alike = [PairedBox(f"{i:02d}", (float(rng.normal(0, 0.01)),)) for i in range(30)]
    many, three = (compare("methods", "primary", "s", "insertion_auc", "a", "b", pairs, FAST) for pairs in (alike, alike[:3]))
    decide([many], holm, FAST)
    decide([three], holm, FAST)
    assert many.verdict == "equivalent" and -0.02 < many.low and many.high < 0.02 and many.p_equivalence_adjusted < 0.05
    assert three.verdict == "undecided" and three.p_equivalence >= 1 / 8
    assert "equivalent within ±0.02" in many.sentence()


def test_scenes_needed_are_given_for_the_difference_observed_and_for_equivalence_each_labelled():
    """RGB's gradcam vs rise in the reproduction: +0.011 over 16 scenes; a difference of the margin
    would need fewer scenes than the one observed, and equivalence more still."""
    rng = np.random.default_rng(7)
    observed = [PairedBox(f"{i:02d}", (0.011 + float(rng.normal(0, 0.05)),)) for i in range(16)]
    c = compare("methods", "primary", "rgb", "deletion_auc", "gradcam", "rise", observed, FAST)
    decide([c], holm, FAST)
    assert c.verdict == "undecided"
    sd = c.components.sd_of_group_mean(None)
    assert c.scenes_needed == scenes_needed(0.02, sd, 1) < c.scenes_to_decide == scenes_needed(abs(c.mean_difference), sd, 1)
    assert c.scenes_for_equivalence == scenes_needed(0.02 - abs(c.mean_difference), sd, 1, alpha=0.1)
    (sentence,) = [s for s in primary_sentences([c]) if s.startswith("Undecided")]
    assert f"about {c.scenes_to_decide} scenes to decide the difference observed" in sentence
    assert f"about {c.scenes_for_equivalence} to show it equivalent within ±0.02" in sentence
    far = [PairedBox(f"{i:02d}", (0.05 + d,)) for i, d in enumerate((-0.3, 0.3, -0.2, 0.2, 0.1, -0.1))]
    wide = compare("methods", "primary", "rgb", "deletion_auc", "gradcam", "rise", far, FAST)
    decide([wide], holm, FAST)
    assert wide.scenes_for_equivalence is None and "no number to show it equivalent" in primary_sentences([wide])[0]


def test_a_decided_difference_inside_the_margin_is_shown_as_one_that_does_not_matter():
    rng = np.random.default_rng(8)
    small = [PairedBox(f"{i:02d}", (-0.005 + float(rng.normal(0, 0.002)),)) for i in range(30)]
    c = compare("methods", "primary", "mir", "deletion_auc", "a", "b", small, FAST)
    decide([c], holm, FAST)
    assert c.verdict == "better" and -0.02 < c.low < c.high < 0.02
    assert c.verdict_label == "better, by less than the margin (±0.02)"
    assert primary_rows([c])[1][10] == c.verdict_label and "less than the 0.02 that matters" in c.sentence()


def test_a_metric_on_another_scale_is_judged_against_its_own_margin():
    """A rank correlation's 0.05 is a difference that does not matter (its margin 0.1), an AUC's would."""
    rng = np.random.default_rng(5)
    apart = [PairedBox(f"{i:02d}", (0.05 + float(rng.normal(0, 0.01)),)) for i in range(30)]
    ranking, auc = (compare("methods", "primary", "s", metric, "a", "b", apart, FAST) for metric in ("part_ranking", "insertion_auc"))
    decide([ranking], holm, FAST)
    decide([auc], holm, FAST)
    assert (ranking.margin, auc.margin) == (0.1, FAST.margin)
    assert ranking.p_equivalence_adjusted < 0.05 < auc.p_equivalence_adjusted
    assert auc.verdict == "better" or auc.verdict == "worse"


# -- from explanations to verdicts -----------------------------------------------------------------

def run_results(scenes: int, shift: float, boxes: int = 2, seed: int = 0) -> list[BoxResult]:
    """Method a's deletion AUC is b's plus ``shift`` (lower deletion is better), ``boxes`` per scene."""
    rng = np.random.default_rng(seed)
    results = []
    for s in range(scenes):
        for k in range(boxes):
            base = float(rng.uniform(0.1, 0.5))
            results += [result(f"{s:03d}", "a", base + shift + float(rng.normal(0, 0.01)), rank=k),
                        result(f"{s:03d}", "b", base, rank=k)]
    return results


def test_a_known_shift_is_decided_and_worded_with_its_numbers():
    rows = comparisons({("net", "mir", "detection"): run_results(20, 0.05)}, ["a", "b"], [("a", "b")], FAST)
    deletion, insertion = rows
    assert (deletion.family, deletion.scenes, deletion.boxes) == ("primary", 20, 40)
    assert deletion.low < 0.05 < deletion.high and deletion.verdict == "worse"  # a's deletion AUC is higher
    assert insertion.verdict == "equivalent"  # the same insertion AUC everywhere
    sentences = primary_sentences(rows)
    assert sentences[0].startswith("net on mir, deletion AUC: b is better than a") and "20 scenes, 40 boxes" in sentences[0]


def test_too_few_scenes_give_no_verdict_and_the_report_says_what_would_decide():
    rows = comparisons({("net", "mir", "detection"): run_results(1, 0.05)}, ["a", "b"], [("a", "b")], FAST)
    assert all(c.p is None and c.verdict == TOO_FEW for c in rows)
    five = comparisons({("net", "mir", "detection"): run_results(5, 0.05)}, ["a", "b"], [("a", "b")], FAST)
    assert all(not c.reachable and c.verdict == "undecided" for c in five)
    text = " ".join(primary_sentences(five))
    assert "Undecided, 2 of 2 primary comparisons" in text and "can reach p < 0.05" in text and "scenes to decide the difference observed" in text
    assert "With 5 scenes the intervals are unreliable" in text and all(c.note.startswith("fewer than 10") for c in five)
    # An undecided comparison's interval is named by the level Holm tested it at, as a decided one's is.
    assert all(c.level > 0.95 and f"{c.interval_name} interval {c.low:+.3f} to {c.high:+.3f}" in text for c in five)
    assert "(simultaneous) interval" in text and "95 % interval" not in text


def test_the_callback_logs_the_same_estimand_and_a_p_value_only_once_the_family_can_reach_alpha():
    methods = ["gradcam", "rise", "sidu", "random", "box"]
    pairs = primary_pairs(methods)

    def logged(scenes: int) -> dict:
        results = [result(f"{s:03d}", m, 0.1 + 0.01 * i + 0.001 * s) for s in range(scenes) for i, m in enumerate(methods)]
        return comparison_scalars(comparisons({("net", "epoch", "detection"): results}, methods, pairs, FAST, spectra=False))

    few, enough = logged(6), logged(12)  # 18 comparisons: 2 / 2^6 x 18 > 0.05 > 2 / 2^12 x 18
    key = "explain/compare/gradcam_vs_random/deletion_auc"
    assert few[key] == pytest.approx(-0.03) and f"{key}_low" in few and f"{key}_p_holm" not in few
    assert enough[f"{key}_p_holm"] < 0.05
    assert not any(k.startswith("explain/compare/random_vs_box") for k in enough)  # exploratory: not logged


def test_the_primary_family_is_declared_with_a_default_and_checked():
    assert primary_pairs(["gradcam", "rise", "sidu", "random", "box"]) == [
        ("gradcam", "random"), ("gradcam", "box"), ("rise", "random"), ("rise", "box"), ("sidu", "random"),
        ("sidu", "box"), ("gradcam", "rise"), ("gradcam", "sidu"), ("rise", "sidu")]
    assert ExplainSettings(["gradcam", "scorecam"]).primary == [("gradcam", "random"), ("gradcam", "box"),
                                                                 ("scorecam", "random"), ("scorecam", "box")]
    assert ExplainSettings(["gradcam"], primary_comparisons="gradcam:box").primary == [("gradcam", "box")]
    with pytest.raises(SettingsError, match="'rise' is not among the methods explained"):
        ExplainSettings(["gradcam"], primary_comparisons="gradcam:rise")
    with pytest.raises(SettingsError, match="write two different methods as a:b"):
        ExplainSettings(["gradcam"], primary_comparisons="gradcam")


def test_a_blank_map_is_its_own_outcome_and_counts_at_the_random_maps_auc_only_as_a_sensitivity_line():
    results = []
    for s in range(12):
        results += [result(f"{s:03d}", "random", 0.4), result(f"{s:03d}", "b", 0.2)]
        results.append(result(f"{s:03d}", "a", 0.1, blank=s < 6))  # blank on half the scenes
    rows = comparisons({("net", "mir", "detection"): results}, ["a", "b", "random"], [("a", "random")], FAST)
    found = {(c.family, c.metric): c for c in rows if (c.a, c.b) == ("a", "random")}
    primary, sensitivity = found[("primary", "deletion_auc")], found[("sensitivity", "deletion_auc")]
    assert primary.boxes == 6 and primary.mean_difference == pytest.approx(-0.3)  # where both maps exist
    assert sensitivity.boxes == 12 and sensitivity.mean_difference == pytest.approx((6 * -0.3 + 6 * 0.0) / 12)
    blanks = found[("blanks", "blank_rate")]
    assert blanks.boxes == 12 and blanks.mean_difference == pytest.approx(0.5) and blanks.verdict == "worse"
    assert blanks.p == pytest.approx(2 / 2 ** 6)  # exact: six scenes differ, six are ties at 0
    assert not any(c.family in ("blanks", "sensitivity") for c in rows if (c.a, c.b) == ("b", "random"))


# -- the noise of stochastic methods --------------------------------------------------------------

def test_each_image_draws_its_own_masks_and_the_boxes_of_one_image_share_them():
    image = 0.6 + 0.4 * torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    settings = ExplainSettings(["rise"], {"rise": {"n_masks": 24}}, step=0.5, batch_size=8, target_min_score=0.0,
                               baselines=False)
    explainer = Explainer(settings)

    def rise_map(sample_id: str, spectrum: str = "mir") -> torch.Tensor:
        return explainer.explain(region_detector(), {"image": image, "sample_id": sample_id, "spectrum": spectrum}).results[0].saliency

    assert torch.equal(rise_map("000001"), rise_map("000001"))
    assert not torch.equal(rise_map("000001"), rise_map("000002"))
    assert not torch.equal(rise_map("000001"), rise_map("000001", "fir"))
    seeds = {explainer.methods_for(scene, "mir")["rise"].seed for scene in ("000001", "000002")}
    assert len(seeds) == 2 and explainer.methods_for("000001", "mir")["rise"].seed == explainer.methods_for("000001", "mir")["rise"].seed


def test_repeats_are_averaged_per_box_and_their_spread_is_the_run_level_noise():
    image = 0.6 + 0.4 * torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    sample = {"image": image, "sample_id": "000001", "spectrum": "mir"}
    settings = ExplainSettings(["rise", "gradcam"], {"rise": {"n_masks": 24}}, step=0.5, batch_size=8,
                               target_min_score=0.0, repeats=3, baselines=False)
    results = {r.method: r for r in Explainer(settings).explain(region_detector(), sample).results}
    rise = results["rise"]
    assert len(rise.repeat_aucs) == 3 and rise.repeat_aucs[0] == (rise.insertion.auc, rise.deletion.auc)
    assert -1 <= rise.seed_correlation < 1  # three different mask seeds, three different maps
    assert results["gradcam"].repeat_aucs == [] and math.isnan(results["gradcam"].seed_correlation)
    rows = comparisons({("net", "mir", "detection"): list(results.values())}, ["rise", "gradcam"], [("rise", "gradcam")], FAST)
    deletion = next(c for c in rows if c.metric == "deletion_auc")
    repeats = [aucs[1] - results["gradcam"].deletion.auc for aucs in rise.repeat_aucs]
    assert deletion.mean_difference == pytest.approx(np.mean(repeats))
    assert deletion.repeat_sd == pytest.approx(np.std(repeats, ddof=1))
