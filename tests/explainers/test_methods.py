"""Every method on a detector whose answer is known (tests/region_detector.py)."""
import pytest
import torch

from spectral_xai.detection import DetectionScorer, MatchedScore, Target
from spectral_xai.explainers import REGISTRY, create, list_methods, register
from spectral_xai.explainers import base as base_module
from spectral_xai.explainers.base import SaliencyMethod
from spectral_xai.explainers.rise import RISE, rise_masks
from spectral_xai.settings import SettingsError

from ..helpers.region_detector import (BOX_REGION_SLICE, LABEL, REGION_SLICE, expected_score, region_case,
                                       region_detector, region_scorer)


@pytest.fixture(scope="module")
def case():
    scorer, image, target = region_case()
    assert target.label == LABEL and target.score == pytest.approx(expected_score(image), abs=1e-6)
    return scorer, image, target


def test_registry_knows_the_methods_and_refuses_others():
    assert {*GRADIENT_METHODS, "odam_box", "odam_comb", "eigencam", "rise", "sidu", "scorecam", "sess"} <= set(REGISTRY)
    with pytest.raises(SettingsError, match="unknown saliency method 'lime'"):
        create("lime")


GRADIENT_METHODS = ["gradcam", "gradcam_norelu", "hirescam", "hirescam_norelu", "xgradcam", "gradcam_plusplus",
                    "layercam", "guided_gradcam", "odam", "gradient"]


def assert_points_at(saliency: torch.Tensor, region: tuple[slice, slice], name: str) -> None:
    assert saliency.shape == (64, 64) and saliency.min() == 0 and saliency.max() == 1
    # Of the region-sized set of most salient pixels, most lie in the region (chance: 1/16).
    in_region = torch.zeros(64, 64, dtype=torch.bool)
    in_region[region] = True
    top = torch.argsort(saliency.flatten(), descending=True)[: int(in_region.sum())]
    share = in_region.flatten()[top].float().mean().item()
    assert share > 0.5, f"{name}: only {share:.2f} of the most salient pixels in the region"
    assert saliency[region].mean() > 2 * saliency[~in_region].mean()


@pytest.mark.parametrize("name, settings", [*((name, {}) for name in GRADIENT_METHODS),
                                            ("rise", {"n_masks": 400, "grid": 4, "p": 0.5}), ("sidu", {}),
                                            ("scorecam", {}), ("sess", {"base": "gradcam", "scales": 3}),
                                            ("sess", {"base": "sidu", "scales": 2, "drop": 0.0})])
def test_each_method_puts_most_saliency_in_the_region(case, name, settings):
    scorer, image, target = case
    assert_points_at(create(name, **settings)(scorer, image, target), REGION_SLICE, name)


@pytest.mark.parametrize("coordinates", [["x1"], ["x2"], ["x1", "y1", "x2", "y2"]])
def test_odam_box_points_where_the_box_is_decided(case, coordinates):
    """The detection's horizontal shift is read from tile BOX_REGION, its class from tile REGION."""
    scorer, image, target = case
    assert_points_at(create("odam_box", coordinates=coordinates)(scorer, image, target), BOX_REGION_SLICE, "odam_box")
    both = create("odam_comb")(scorer, image, target)
    assert both[REGION_SLICE].mean() > 0.5 and both[BOX_REGION_SLICE].mean() > 0.5


def test_odam_box_without_any_effect_on_the_corner_is_blank(case):
    """The region detector never moves its box vertically: y1's map has nothing to show."""
    scorer, image, target = case
    assert create("odam_box", coordinates=["y1"])(scorer, image, target).abs().max() == 0
    with pytest.raises(ValueError, match="coordinates"):
        create("odam_box", coordinates=["width"])


def test_the_decoded_box_is_the_detections_box(case):
    scorer, image, target = case
    detector = scorer.detector
    assert torch.allclose(detector.box(detector.raw(image[None]), target), target.box, atol=1e-5)


def test_eigencam_shows_the_dominant_pattern_oriented_to_the_detection():
    """EigenCAM depends on the detection only through its level and the sign: with the region much
    brighter than the rest, the first principal component is the region's channel."""
    scorer = region_scorer()
    image = torch.full((3, 64, 64), 0.3)
    image[(slice(None), *REGION_SLICE)] = 1.0
    with torch.no_grad():
        target = Target.from_detections(scorer.detector(image[None]))
    assert_points_at(create("eigencam")(scorer, image, target), REGION_SLICE, "eigencam")


def test_gradcam_runs_under_inference_mode(case):
    scorer, image, target = case
    with torch.inference_mode():
        frozen = image.clone()
        saliency = create("gradcam")(scorer, frozen, target)
    assert saliency[REGION_SLICE].mean() > saliency.mean()


def test_rise_is_normalised_by_n_times_p():
    """With a score that ignores the image, RISE's raw map is that score everywhere (E[M] = p)."""
    detector = region_detector()
    image = torch.ones(3, 64, 64)
    with torch.no_grad():
        target = Target.from_detections(detector(image[None]))

    class Constant(MatchedScore):
        def __call__(self, detections, target_):
            match = super().__call__(detections, target_)
            match.scores = torch.full_like(match.scores, 0.7)
            return match

    raw = RISE(n_masks=3000, grid=8, p=0.1).saliency(DetectionScorer(detector, Constant(), 500), image, target)
    assert raw.mean().item() == pytest.approx(0.7, rel=0.03)


def test_rise_masks_are_seeded_and_memory_bounded():
    a = torch.cat(list(rise_masks(50, 8, 0.1, (64, 64), 7, seed=1)))
    b = torch.cat(list(rise_masks(50, 8, 0.1, (64, 64), 50, seed=1)))
    c = torch.cat(list(rise_masks(50, 8, 0.1, (64, 64), 50, seed=2)))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert max(len(chunk) for chunk in rise_masks(50, 8, 0.1, (64, 64), 7, seed=1)) == 7
    assert a.min() >= 0 and a.max() <= 1


def test_rise_counts_its_forward_passes(case):
    scorer, image, target = case
    scorer = DetectionScorer(scorer.detector, scorer.rule, batch_size=16)
    scorer(image[None].expand(40, -1, -1, -1), target)
    assert scorer.forward_passes == 40


def test_a_new_method_is_one_small_class(case):
    @register("centre_test", "a map that peaks at the image centre")
    class Centre(SaliencyMethod):
        def cost(self):
            return "none"

        def saliency(self, scorer, image, target):
            y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
            return -((y - 32) ** 2 + (x - 32) ** 2)

    try:
        saliency = create("centre_test")(*case)
        assert saliency[32, 32] == 1 and saliency[0, 0] == 0
        assert ("centre_test", "a map that peaks at the image centre", "none") in [(m.name, m.explains, m.cost) for m in list_methods()]
    finally:
        REGISTRY.pop("centre_test")


@pytest.mark.parametrize("name", ["gradcam", "odam_box", "gradient", "rise"])
def test_several_images_in_one_batch_are_each_explained_as_alone(case, name, monkeypatch):
    """explain_batch (SESS's windows) equals explain_all image by image, also where the batch is cut."""
    monkeypatch.setattr(base_module, "GRADIENT_BATCH", 2)
    scorer, image, target = case
    images = torch.stack([image, image.flip(-1), 0.5 + 0.5 * image])
    targets = [[Target.from_detections(scorer.detector(x[None]))] for x in images]
    method = create(name, **({"n_masks": 64, "grid": 4, "p": 0.5} if name == "rise" else {}))
    together = method.explain_batch(scorer, images, targets)
    for x, x_targets, maps in zip(images, targets, together):
        (alone,) = method.explain_all(scorer, x, x_targets)
        assert torch.allclose(maps[0], alone, atol=1e-5)


def test_every_method_states_what_it_shows_and_what_a_box_costs():
    """The registry's one-line description and each method's cost, which follows its settings."""
    listed = {m.name: m for m in list_methods()}
    assert set(listed) == set(REGISTRY) and all(m.explains and m.cost for m in listed.values())
    assert listed["gradcam"].cost == "1 fwd+bwd" and listed["box"].cost == "none"
    assert create("rise", n_masks=200).cost() == "200 fwd"
    assert create("rise", n_masks="auto", max_masks=1000).cost().startswith("256 to 1000 fwd")
    assert create("odam_box", coordinates=["x1"]).cost() == "1 fwd + 1 head-only bwd"
    assert create("sess", scales=1).cost() == "1 fwd + gradcam (1 fwd+bwd) on up to 1 windows"
