"""Insertion and deletion against curves computed by hand, one image at a time."""
import math

import pytest
import torch
from pytorch_grad_cam.metrics.road import NoisyLinearImputer
from torchvision.transforms.functional import gaussian_blur

from spectral_xai.detection import Target
from spectral_xai.metrics import CHECKS, deletion, insertion, metric_checks

from ..helpers.region_detector import expected_score, region_scorer


def hand_curve(image, substrate, saliency, step, insert, descending=True):
    """``substrate``: the fill, or for ROAD the imputer that makes it from the kept pixels' mask."""
    order = torch.argsort(saliency.flatten(), descending=descending, stable=True)
    n = order.numel()
    scores = []
    for i in range(math.ceil(1 / step) + 1):
        moved = order[: min(n, round(i * step * n))]
        if callable(substrate):
            kept = torch.zeros(n, dtype=torch.bool)
            kept[moved] = True
            kept = kept if insert else ~kept
            # pytorch-grad-cam's imputer solves a singular system when nothing is kept: the mean colour then
            scores.append(expected_score(substrate(image, kept.reshape(image.shape[1:]).float()) if kept.any()
                                         else torch.zeros_like(image)))
            continue
        flat = (substrate if insert else image).reshape(3, -1).clone()
        flat[:, moved] = (image if insert else substrate).reshape(3, -1)[:, moved]
        scores.append(expected_score(flat.reshape(image.shape)))
    xs = [min(1.0, i * step) for i in range(len(scores))]
    auc = sum((xs[i + 1] - xs[i]) * (scores[i] + scores[i + 1]) / 2 for i in range(len(scores) - 1))
    return scores, auc


@pytest.fixture(scope="module")
def case():
    scorer = region_scorer(batch_size=8)
    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(3)) * 0.5 + 0.5
    with torch.no_grad():
        target = Target.from_detections(scorer.detector(image[None]))
    saliency = torch.rand(64, 64, generator=torch.Generator().manual_seed(4))
    saliency[16:32, 16:32] += 0.5  # the region mostly, not entirely, first
    return scorer, image, target, saliency


@pytest.mark.parametrize("step", [0.05, 0.03])
def test_deletion_matches_hand_computation(case, step):
    scorer, image, target, saliency = case
    result = deletion(scorer, image, saliency, target, step=step)
    scores, auc = hand_curve(image, torch.zeros_like(image), saliency, step, insert=False)
    assert result.scores.tolist() == pytest.approx(scores, abs=1e-5)
    assert result.auc == pytest.approx(auc, abs=1e-5) and result.step == step
    assert result.fractions[0] == 0 and result.fractions[-1] == 1


def test_insertion_matches_hand_computation_from_a_blurred_copy(case):
    scorer, image, target, saliency = case
    result = insertion(scorer, image, saliency, target, step=0.05)
    blurred = gaussian_blur(image[None], kernel_size=[11, 11], sigma=[5.0, 5.0])[0]
    scores, auc = hand_curve(image, blurred, saliency, 0.05, insert=True)
    assert result.scores.tolist() == pytest.approx(scores, abs=1e-5)
    assert result.auc == pytest.approx(auc, abs=1e-5)
    assert result.scores[-1] == pytest.approx(target.score, abs=1e-5)


def test_good_saliency_beats_reversed_saliency(case):
    scorer, image, target, saliency = case
    good = deletion(scorer, image, saliency, target, 0.05).auc
    bad = deletion(scorer, image, -saliency, target, 0.05).auc
    assert good < bad


def test_step_outside_unit_interval_is_refused(case):
    scorer, image, target, saliency = case
    with pytest.raises(ValueError, match="step 0"):
        deletion(scorer, image, saliency, target, step=0)


def test_either_fill_and_either_order_match_hand_computation(case):
    """Deletion onto the blurred copy, insertion into zeros, and both with the least relevant pixels first."""
    scorer, image, target, saliency = case
    blurred = gaussian_blur(image[None], kernel_size=[11, 11], sigma=[5.0, 5.0])[0]
    expected = {
        "deletion_auc_other_fill": hand_curve(image, blurred, saliency, 0.05, insert=False)[1],
        "insertion_auc_other_fill": hand_curve(image, torch.zeros_like(image), saliency, 0.05, insert=True)[1],
        "deletion_auc_least_relevant_first": hand_curve(image, torch.zeros_like(image), saliency, 0.05, insert=False,
                                                        descending=False)[1],
        "insertion_auc_least_relevant_first": hand_curve(image, blurred, saliency, 0.05, insert=True, descending=False)[1]}
    checks = metric_checks(scorer, image, saliency, target, 0.05)
    assert list(checks) == list(CHECKS)
    assert {name: checks[name] for name in expected} == pytest.approx(expected, abs=1e-5)
    # ROAD's fill, against the authors' imputer without noise: the fill's noise (sd 0.01) moves a
    # tile's mean grey by about 0.0006, a score by under 1e-3
    imputer = NoisyLinearImputer(noise=0)
    assert checks["deletion_auc_road"] == pytest.approx(hand_curve(image, imputer, saliency, 0.05, insert=False)[1], abs=3e-3)
    assert checks["insertion_auc_road"] == pytest.approx(hand_curve(image, imputer, saliency, 0.05, insert=True)[1], abs=3e-3)
    assert deletion(scorer, image, saliency, target, 0.05, fill="blur").auc == pytest.approx(expected["deletion_auc_other_fill"], abs=1e-5)
    # the other fills of a run that chose blur for deletion: zeros
    swapped = metric_checks(scorer, image, saliency, target, 0.05, {"deletion": "blur", "insertion": "blur"})
    assert swapped["deletion_auc_other_fill"] == pytest.approx(deletion(scorer, image, saliency, target, 0.05).auc, abs=1e-6)
    # a map that finds the region: deleting it first falls at once, keeping it for last holds the score
    assert checks["deletion_auc_least_relevant_first"] > deletion(scorer, image, saliency, target, 0.05).auc
    with pytest.raises(ValueError, match="fill 'noise'"):
        deletion(scorer, image, saliency, target, 0.05, fill="noise")
