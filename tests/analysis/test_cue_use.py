"""Whether a net uses the cue, from results made by hand: the cue's effect per running car, counted
once per box whatever its methods, with the mean's t interval."""
import math

import pytest
from scipy import stats

from spectral_xai.analysis.cue_use import COLUMNS, cue_use, known_cause_rows

from ..helpers.box_results import result


def _running_car(scene: str, effect: float, noise: float, methods=("gradcam", "box")):
    made = []
    for method in methods:
        one = result(scene, method, deletion=0.1)
        one.cause_effects, one.cause_noise, one.measurable_cause = {"hood": 0.1, "cue": effect}, {"hood": 0.0, "cue": noise}, True
        made.append(one)
    return made


def test_each_running_car_counts_once_with_its_mean_effect_and_interval():
    effects = [0.4, 0.5, 0.3, 0.02]
    results = [r for k, e in enumerate(effects) for r in _running_car(str(k), e, noise=0.05)]
    use = cue_use(results)
    assert (use.running_cars, use.measurable) == (4, 3)
    assert use.mean_effect == pytest.approx(sum(effects) / 4) and use.median_effect == pytest.approx(0.35)
    low, high = stats.t.interval(0.95, 3, loc=use.mean_effect, scale=stats.sem(effects))
    assert (use.low, use.high) == (pytest.approx(low), pytest.approx(high)) and use.share == 0.75


def test_without_running_cars_nothing_is_claimed_and_rows_count_boxes_with_known_causes():
    assert cue_use([result("0", "gradcam", deletion=0.1)]).running_cars == 0
    assert math.isnan(cue_use([]).mean_effect) and math.isnan(cue_use([]).share)
    parked = result("1", "gradcam", deletion=0.1)
    parked.cause_effects, parked.measurable_cause = {"hood": 0.0}, False
    plain = result("2", "gradcam", deletion=0.1)  # an image without a scene: no known causes
    rows = known_cause_rows({("net", "mir", "detection"): [*_running_car("0", 0.4, 0.01), parked, plain]})
    (row,) = rows
    assert set(row) == set(COLUMNS)
    assert (row["boxes"], row["with_known_causes"], row["measurable"], row["running_cars"]) == (3, 2, 1, 1)
