"""Spectrum attribution against each spectrum's true share, on results made by hand where both are set."""
import math

import pytest

from spectral_xai.analysis.spectrum_truth import COLUMNS, box_shares, spectrum_truth
from spectral_xai.metrics import SpectrumScore

from ..helpers.box_results import result


def _fused(scene: str, true: tuple[float, float], without: tuple[float, float], noise: float = 0.01, cue: bool = True):
    """A box of an RGB+MIR input (score 0.9): the true drops with the object rendered away in RGB,
    then in MIR (the cue's the same), and the scores with each spectrum replaced by the substrate."""
    one = result(scene, "gradcam", deletion=0.1, spectrum="rgb+mir")
    for what in ("object", "cue") if cue else ("object",):
        one.cause_effects |= {f"{what} in rgb": true[0], f"{what} in mir": true[1]}
        one.cause_noise |= {f"{what} in rgb": noise, f"{what} in mir": noise}
    one.spectrum_scores = {"rgb": SpectrumScore(without[0], 0.5), "mir": SpectrumScore(without[1], 0.5)}
    return one


def test_shares_are_positive_drops_over_their_sum():
    true, attributed = box_shares(_fused("0", (0.3, 0.1), (0.9, 0.5)), "object")
    assert true.tolist() == pytest.approx([0.75, 0.25]) and attributed.tolist() == pytest.approx([0.0, 1.0])
    assert box_shares(_fused("0", (0.005, -0.2), (0.9, 0.5)), "object") is None  # the largest effect within noise
    single = result("0", "gradcam", deletion=0.1)
    assert box_shares(single, "object") is None


def test_attribution_that_follows_the_truth_names_the_same_spectrum_and_one_that_does_not_fails():
    following = [_fused(str(k), (0.4, 0.05), (0.4, 0.85)) for k in range(10)]
    following += [_fused(str(k), (0.02, 0.5), (0.88, 0.3)) for k in range(10, 20)]
    opposite = [_fused(str(k), (0.4, 0.05), (0.85, 0.4)) for k in range(20)]
    opposite.append(_fused("blurred", (0.005, 0.004), (0.5, 0.5)))  # no measurable share: counted, not compared
    opposite.append(_fused("parked", (0.3, 0.1), (0.9, 0.5), cue=False))  # no cue
    rows = {(r["model"], r["rendered_away"]): r for r in spectrum_truth({
        ("follows", "rgb+mir", "detection"): following, ("opposes", "rgb+mir", "detection"): opposite,
        ("single", "mir", "detection"): [result("0", "gradcam", deletion=0.1)]})}
    assert set(rows) == {("follows", "object"), ("follows", "cue"), ("opposes", "object"), ("opposes", "cue")}
    good, bad = rows["follows", "object"], rows["opposes", "object"]
    assert good["same_top_spectrum"] == 1.0 and good["low"] > 0.8 and good["share_distance"] < 0.2
    assert bad["same_top_spectrum"] == 0.0 and bad["high"] < 0.2 and bad["share_distance"] > 0.5
    assert (bad["boxes"], bad["measurable"]) == (22, 21) and rows["opposes", "cue"]["boxes"] == 21
    assert good["true_shares"].startswith("rgb 0.4") and set(good) == set(COLUMNS)


def test_an_attribution_that_finds_no_spectrum_matters_never_names_the_top_one():
    blind = [_fused(str(k), (0.4, 0.05), (0.95, 0.95)) for k in range(5)]
    row = spectrum_truth({("blind", "rgb+mir", "detection"): blind})[0]
    assert row["same_top_spectrum"] == 0.0 and row["share_distance"] == pytest.approx(0.5 * (0.4 / 0.45 + 0.05 / 0.45))
    assert not math.isnan(row["high"])
