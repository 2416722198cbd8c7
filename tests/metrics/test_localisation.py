"""Pointing game, energy pointing game and ODI on maps whose answers are known by construction."""
import math

import pytest
import torch

from spectral_xai.detection import Target
from spectral_xai.metrics import localisation
from spectral_xai.metrics.localisation import box_mask


def target(box, label=0) -> Target:
    return Target(box=torch.tensor(box, dtype=torch.float32), label=label, score=0.9, class_probs=torch.zeros(2), anchor=0)


ANNOTATED = torch.tensor([[10.0, 10, 30, 30], [40, 40, 60, 60]])
LABELS = torch.tensor([0, 1])


def test_box_mask_takes_the_pixels_whose_centres_are_inside():
    mask = box_mask(torch.tensor([1.0, 2.0, 3.0, 5.0]), (8, 8))
    assert mask.sum() == 2 * 3 and mask[2:5, 1:3].all()


def test_all_saliency_in_the_annotated_box():
    saliency = torch.zeros(64, 64)
    saliency[15:25, 15:25] = torch.rand(10, 10) + 0.1
    found = localisation(saliency, target([11, 9, 31, 29]), ANNOTATED, LABELS)
    assert (found.pointing_game, found.odi, found.against) == (1.0, 0.0, "annotation")
    assert found.energy_pointing_game == pytest.approx(1.0)


def test_a_quarter_inside_and_the_peak_on_the_other_object():
    saliency = torch.zeros(64, 64)
    saliency[10:30, 10:30] = 1.0  # the detection's object: 400 px at 1
    saliency[40:60, 40:60] = 2.0  # the other object: 400 px at 2, the peak
    saliency[0:5, 0:40] = 1.0  # background: 200 px at 1
    found = localisation(saliency, target([10, 10, 30, 30]), ANNOTATED, LABELS)
    assert found.pointing_game == 0.0
    assert found.energy_pointing_game == pytest.approx(400 / (400 + 800 + 200))
    assert found.odi == pytest.approx(800 / (400 + 800))


def test_an_unannotated_detection_is_judged_against_its_own_box_and_all_objects_are_others():
    saliency = torch.zeros(64, 64)
    saliency[0:8, 0:8] = 1.0
    saliency[40:44, 40:44] = 1.0
    found = localisation(saliency, target([0, 0, 8, 8]), ANNOTATED, LABELS)
    assert found.against == "detection" and found.pointing_game == 1.0
    assert found.energy_pointing_game == pytest.approx(64 / 80) and found.odi == pytest.approx(16 / 80)


def test_the_class_decides_the_annotation():
    """A box on the class-1 object, detected as class 0, is not that object's detection."""
    found = localisation(torch.ones(64, 64), target([40, 40, 60, 60], label=0), ANNOTATED, LABELS)
    assert found.against == "detection" and found.odi == pytest.approx(1.0)


def test_a_blank_map_has_no_scores():
    found = localisation(torch.zeros(64, 64), target([10, 10, 30, 30]), ANNOTATED, LABELS)
    assert math.isnan(found.pointing_game) and math.isnan(found.energy_pointing_game) and math.isnan(found.odi)


def test_a_plateau_counts_as_a_hit_only_when_most_of_it_is_inside():
    saliency = torch.zeros(64, 64)
    saliency[20:30, 20:40] = 1.0  # 100 px inside the box [10, 30], 100 px outside
    saliency[20:30, 20:21] = 0.5  # ... a few less inside
    assert localisation(saliency, target([10, 10, 30, 30]), ANNOTATED, LABELS).pointing_game == 0.0


def test_a_false_positive_is_judged_against_the_object_it_sits_on_of_any_class_else_as_background():
    from dataclasses import replace

    saliency = torch.zeros(64, 64)
    saliency[45:55, 45:55] = 1.0  # on the class-1 object
    on_other_class = localisation(saliency, replace(target([38, 38, 58, 58], label=0), kind="false_positive"), ANNOTATED, LABELS)
    assert on_other_class.against == "other_class" and on_other_class.pointing_game == 1.0 and on_other_class.odi == 0.0
    nowhere = localisation(saliency, replace(target([0, 0, 8, 8]), kind="false_positive"), ANNOTATED, LABELS)
    assert nowhere.against == "background" and nowhere.pointing_game == 0.0 and nowhere.odi == pytest.approx(1.0)
