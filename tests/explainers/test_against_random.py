"""Every method against random saliency maps, on the shared trained net: a test apart from the
others on that net, so that the test processes can run it beside them."""
import pytest
import torch

from spectral_xai.explainers import create

from ..helpers.margins import reached
from ..helpers.scored_boxes import BOXES, gain, one_sided_p, scored_boxes

METHODS = {"gradcam": {}, "gradcam_norelu": {}, "rise": {"n_masks": 120}}
RANDOM_MAPS = 4


@pytest.mark.slow
def test_every_method_beats_random_saliency_by_a_paired_test(trained_checkpoint, record_property):
    """Insertion minus deletion AUC of each method's map against the mean of that of 4 random maps on
    the same box (one random map's gain is noisy enough to hide a method's), over 24 boxes: a
    one-sided Wilcoxon signed-rank test must reject "no better than random" at p < 0.05 for every
    method; a method no better than random passes it on one net in twenty. Over the shared net's
    training seeds 0-4 every method reached p < 0.05 (benchmarks/net_margins.py prints them: at
    most 0.042, on seed 4); with 12 boxes Grad-CAM did not on seed 4 (p 0.10). SIDU has its own
    test, against its reversed map (test_trained_detector.py)."""
    scorer, boxes = scored_boxes(trained_checkpoint)
    generator = torch.Generator().manual_seed(0)
    gains = {name: [] for name in [*METHODS, "random"]}
    for image, target in boxes:
        for name, settings in METHODS.items():
            gains[name].append(gain(scorer, image, create(name, **settings)(scorer, image, target), target))
        random_maps = torch.rand(RANDOM_MAPS, *image.shape[-2:], generator=generator)
        gains["random"].append(sum(gain(scorer, image, saliency, target) for saliency in random_maps) / RANDOM_MAPS)
    means = {name: round(sum(v) / len(v), 3) for name, v in gains.items()}
    p_values = {name: one_sided_p(gains[name], gains["random"]) for name in METHODS}
    failed = [name for name, p in p_values.items()
              if not reached(record_property, f"{name} beats random maps: one-sided Wilcoxon p over {BOXES} boxes", p, "<", 0.05)]
    assert not failed, f"not shown better than random maps: {failed}; p {p_values}, mean gains {means}"
