import math

import torch

from spectral_xai.metrics import spearman, stability


def test_stability_is_the_mean_rank_correlation_per_method_over_boxes_in_both_epochs():
    ramp = torch.arange(16.0).reshape(4, 4)
    previous = {("a", "gradcam"): ramp, ("b", "gradcam"): ramp, ("a", "rise"): ramp, ("gone", "rise"): ramp}
    current = {("a", "gradcam"): ramp * 2 + 1,  # the same order of pixels: 1
               ("b", "gradcam"): -ramp,  # reversed: -1
               ("a", "rise"): torch.zeros(4, 4),  # blank: no correlation, not counted
               ("new", "rise"): ramp}  # nothing to compare with
    assert stability(previous, current) == {"gradcam": 0.0}
    assert stability({}, current) == {}
    assert stability(previous, {("a", "gradcam"): ramp.T})["gradcam"] == spearman(ramp, ramp.T)


def test_spearman_is_undefined_for_a_constant_map():
    assert math.isnan(spearman(torch.ones(4, 4), torch.rand(4, 4)))
