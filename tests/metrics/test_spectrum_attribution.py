import pytest
import torch

from spectral_xai.detection import Target
from spectral_xai.metrics import spectrum_attribution

from ..helpers.region_detector import REGION_SLICE, SIZE, expected_score, region_scorer


def test_the_spectrum_that_carries_the_detection_is_the_one_whose_removal_costs_it():
    """A stack whose RGB half lights the region strongly and whose MIR half barely: removing RGB
    loses the detection, RGB alone keeps most of it; the scores equal the rule's on the variants."""
    image = torch.zeros(6, SIZE, SIZE)
    image[:3][(slice(None), *REGION_SLICE)] = 1.0
    image[3:][(slice(None), *REGION_SLICE)] = 0.2
    scorer = region_scorer()
    with torch.no_grad():
        target = Target.from_detections(scorer.detector(image[None]))
    (scores,) = spectrum_attribution(scorer, image, [target], ["rgb", "mir"])
    rgb_only, mir_only = image.clone(), image.clone()
    rgb_only[3:], mir_only[:3] = 0, 0
    assert scores["rgb"].without == pytest.approx(expected_score(mir_only), abs=1e-5)
    assert scores["rgb"].alone == pytest.approx(expected_score(rgb_only), abs=1e-5)
    assert scores["mir"].without == pytest.approx(expected_score(rgb_only), abs=1e-5)
    assert scores["mir"].alone == pytest.approx(expected_score(mir_only), abs=1e-5)
    assert scores["rgb"].without < scores["mir"].without and scores["rgb"].alone > scores["mir"].alone


def test_a_single_spectrum_is_compared_with_the_blank_substrate():
    image = torch.zeros(3, SIZE, SIZE)
    image[(slice(None), *REGION_SLICE)] = 1.0
    scorer = region_scorer()
    with torch.no_grad():
        target = Target.from_detections(scorer.detector(image[None]))
    (score,) = spectrum_attribution(scorer, image, [target], ["fir"])[0].values()
    assert score.alone == pytest.approx(target.score, abs=1e-5) and score.without == expected_score(torch.zeros_like(image))
    with pytest.raises(ValueError, match="does not hold 3 channels for each of"):
        spectrum_attribution(scorer, image, [target], ["rgb", "mir"])
