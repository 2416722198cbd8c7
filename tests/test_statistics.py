"""Paired comparisons with known answers: a known shift is found and bounded, identical methods give
no claim, the bootstrap is reproducible from its seed, Holm's correction on a hand-computed case,
too few pairs give no p-value; and the noise of a stochastic method from ``repeats``."""
import math

import numpy as np
import pytest
import torch

from spectral_xai.detection import Target
from spectral_xai.evaluation import BoxResult, ExplainSettings, Explainer
from spectral_xai.metrics import CurveResult
from spectral_xai.statistics import (TOO_FEW, bootstrap_interval, compare_methods, compare_spectra, holm,
                                     supported_sentences)

from .helpers.region_detector import region_detector


def result(sample_id: str, method: str, deletion: float, insertion: float = 0.5, box=(0.0, 0.0, 10.0, 10.0),
           spectrum: str = "mir") -> BoxResult:
    def curve(auc):
        return CurveResult(torch.zeros(2), torch.zeros(2), auc, 0.5)

    target = Target(torch.tensor(box), 0, 0.9, torch.tensor([0.9, 0.1]), 0)
    return BoxResult(sample_id, spectrum, target, 0, method, torch.rand(8, 8) + 0.1, curve(insertion), curve(deletion),
                     0.1, 0.5)


def shifted(shift: float, boxes: int = 20, seed: int = 0) -> dict:
    """Method a's deletion AUC is method b's plus ``shift`` plus a little noise, box by box."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.5, boxes)
    a = base + shift + rng.normal(0, 0.01, boxes)
    results = [result(f"{i:03d}", "a", x) for i, x in enumerate(a)] + [result(f"{i:03d}", "b", x) for i, x in enumerate(base)]
    return {("net", "mir", "detection"): results}


def test_a_known_shift_is_bounded_and_claimed_with_a_small_p():
    (deletion, insertion) = compare_methods(shifted(0.05), ["a", "b"], 2000, 0)
    assert deletion.metric == "deletion_auc" and deletion.n == 20
    assert deletion.low < 0.05 < deletion.high and deletion.mean_difference == pytest.approx(0.05, abs=0.01)
    assert deletion.p < 1e-4 and deletion.supported and deletion.verdict == "b better"  # lower deletion is better
    assert not insertion.supported and insertion.verdict == "no difference shown"  # equal insertion AUCs
    (sentence,) = supported_sentences([deletion, insertion])
    assert sentence.startswith("net on mir: b beats a on deletion AUC") and "n = 20" in sentence


def test_identical_methods_give_no_claim():
    results = shifted(0.0)[("net", "mir", "detection")]
    same = [result(r.sample_id, "b", r.deletion.auc) for r in results if r.method == "a"]
    comparisons = compare_methods({("net", "mir", "detection"): [r for r in results if r.method == "a"] + same}, ["a", "b"], 2000, 0)
    assert all(c.p == 1.0 and not c.supported and c.mean_difference == 0 for c in comparisons)
    assert supported_sentences(comparisons)[0].startswith("No difference between methods or between spectra survives")


def test_the_bootstrap_is_reproducible_from_its_seed():
    values = np.random.default_rng(3).normal(0.2, 0.1, 12)
    assert bootstrap_interval(values, 1000, 7) == bootstrap_interval(values, 1000, 7)
    assert bootstrap_interval(values, 1000, 7) != bootstrap_interval(values, 1000, 8)
    low, high = bootstrap_interval(values, 5000, 0)
    assert low < values.mean() < high


def test_holm_on_a_hand_computed_case():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> kept monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_fewer_than_five_pairs_give_no_p_value():
    groups = {("net", "mir", "detection"): [r for r in shifted(0.1)[("net", "mir", "detection")] if int(r.sample_id) < 4]}
    comparisons = compare_methods(groups, ["a", "b"], 2000, 0)
    assert all(c.n == 4 and c.p is None and c.p_holm is None and c.verdict == TOO_FEW for c in comparisons)
    assert "Nothing can be claimed" in supported_sentences(comparisons)[0]


def test_spectra_are_paired_by_scene_and_object():
    """Two nets on the same scenes: an object is paired where class and box agree (IoU >= 0.5), and a
    box elsewhere in the scene is not the same object."""
    rgb = [result(f"{i:03d}", "a", 0.3, spectrum="rgb") for i in range(9)]
    mir = [result(f"{i:03d}", "a", 0.2, box=(1.0, 1.0, 11.0, 11.0)) for i in range(8)]
    mir.append(result("008", "a", 0.2, box=(50.0, 50.0, 60.0, 60.0)))
    (deletion, _) = compare_spectra({("rgb", "rgb", "detection"): rgb, ("mir", "mir", "detection"): mir}, ["a"], 2000, 0)
    assert deletion.table == "spectra" and deletion.scope == "a" and deletion.n == 8
    assert deletion.mean_difference == pytest.approx(0.1) and deletion.verdict == "mir on mir better"


def test_repeats_give_a_stochastic_methods_own_noise_and_leave_the_others_alone():
    image = 0.6 + 0.4 * torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    sample = {"image": image, "sample_id": "000001", "spectrum": "mir"}
    settings = ExplainSettings(["rise", "gradcam"], {"rise": {"n_masks": 24}}, step=0.5, batch_size=8,
                               target_min_score=0.0, repeats=3, baselines=False)
    results = {r.method: r for r in Explainer(settings).explain(region_detector(), sample).results}
    rise = results["rise"]
    assert len(rise.repeat_aucs) == 3 and rise.repeat_aucs[0] == (rise.insertion.auc, rise.deletion.auc)
    assert -1 <= rise.seed_correlation < 1  # three different mask seeds, three different maps
    assert results["gradcam"].repeat_aucs == [] and math.isnan(results["gradcam"].seed_correlation)
