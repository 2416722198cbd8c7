"""The small images logged per scene: bounded in size, boxes moved with the pixels, maps in the
figures' colours."""
import numpy as np
import pytest
import torch

from spectral_xai.detection import Target
from spectral_xai.results import BoxResult, ObjectOutcome, SampleExplanation
from spectral_xai.metrics import CurveResult
from spectral_xai.reporting.media import fit_within, overlay, scene_media
from spectral_xai.reporting.spec import ImageSpec

from ..helpers.box_results import scored

MEAN, STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def _explained(size: int) -> SampleExplanation:
    image = torch.full((3, size, size), 0.5)
    target = Target(box=torch.tensor([size / 4, size / 4, size / 2, size / 2]), label=1, score=0.8,
                    class_probs=torch.zeros(2), anchor=0)
    saliency = torch.zeros(size, size)
    saliency[: size // 2] = 1.0  # the top half is salient
    curve = CurveResult(torch.tensor([0.0, 1.0]), torch.tensor([0.8, 0.0]), 0.4, 1.0)
    results = [BoxResult("000001", "rgb", target, 0, "gradcam", saliency, 0.1, 0.1, **scored(curve, curve)),
               BoxResult("000001", "rgb", target, 0, "broken", None, 0.1, 0.1, error="Traceback")]
    objects = [ObjectOutcome(0, 0, (0.0, 0.0, size / 8, size / 8), 0.0, False)]
    return SampleExplanation("000001", "rgb", image, [target], results, objects)


def test_a_large_input_is_shrunk_to_the_budget_and_its_boxes_with_it():
    media = scene_media(_explained(512), ImageSpec(["person", "car"], MEAN, STD), pixels=128)
    assert media.image.shape == (128, 128, 3) and media.name == "000001_rgb"
    assert {key: o.shape for key, o in media.overlays.items()} == {(0, "gradcam"): (128, 128, 3), (0, "broken"): (128, 128, 3)}
    assert media.targets[0].box == (32.0, 32.0, 64.0, 64.0) and media.targets[0].score == pytest.approx(0.8)
    assert media.annotated[0].box == (0.0, 0.0, 16.0, 16.0) and media.annotated[0].score is None
    # two panels (the image, gradcam; a failed method keeps its panel) at most 128 px each
    assert media.figure.shape[1] <= 3 * 128 and media.figure.shape[0] <= 2 * 128
    small = scene_media(_explained(64), ImageSpec(["person", "car"], MEAN, STD), pixels=128)
    assert small.image.shape == (64, 64, 3)  # never enlarged


def test_overlay_paints_the_map_in_jet_and_leaves_a_failed_method_bare():
    image = np.full((8, 8, 3), 0.5)
    saliency = torch.zeros(8, 8)
    saliency[:4] = 1.0
    painted = overlay(image, saliency).astype(int)
    assert painted[0, 0, 0] > painted[0, 0, 2]  # 1.0 is jet's dark red
    assert painted[7, 0, 2] > painted[7, 0, 0]  # 0.0 is jet's dark blue
    assert (overlay(image, None) == 128).all()


def test_fit_within_keeps_the_aspect():
    assert fit_within(np.zeros((100, 400, 3), np.uint8), 200).shape == (50, 200, 3)
    assert fit_within(np.zeros((100, 40, 3), np.uint8), 200).shape == (100, 40, 3)
