"""SESS's geometry and its accounting on the region detector."""
import pytest
import torch

from spectral_xai.detection import DetectionScorer
from spectral_xai.explainers import create
from spectral_xai.explainers.sess import SESS

from ..helpers.region_detector import region_case


@pytest.fixture(scope="module")
def case():
    return region_case()


@pytest.mark.parametrize("stride", [1.0, 0.5])
def test_windows_cover_every_scaled_image_and_stay_inside_it(stride):
    windows = SESS(scales=12, stride=stride).windows(64, 48)
    sizes = sorted({w.size for w in windows})
    assert len(sizes) == 12 and sizes[0] == (64, 48) and sizes[-1] == (round(64 * 928 / 224), round(48 * 928 / 224))
    for size in sizes:
        covered = torch.zeros(size, dtype=torch.bool)
        for w in (w for w in windows if w.size == size):
            assert 0 <= w.top <= size[0] - 64 and 0 <= w.left <= size[1] - 48
            covered[w.top:w.top + 64, w.left:w.left + 48] = True
        assert covered.all(), size
    assert len(SESS(scales=5, stride=0.5).windows(64, 64)) > len(SESS(scales=5).windows(64, 64)) == 22


def test_one_scale_is_the_base_method(case):
    scorer, image, target = case
    alone = create("gradcam")(scorer, image, target)
    assert torch.allclose(create("sess", base="gradcam", scales=1, drop=0.0)(scorer, image, target), alone, atol=1e-6)


def test_cost_is_the_windows_and_the_base_method_on_the_kept_ones(case):
    """Every window is scored in batches; RISE then runs on each kept window that shows the target."""
    scorer, image, target = case
    counting = DetectionScorer(scorer.detector, scorer.rule, batch_size=8)
    method = create("sess", base="rise", base_settings={"n_masks": 40, "grid": 4, "p": 0.5}, scales=3, drop=0.5)
    windows = len(method.windows(64, 64))
    method(counting, image, target)
    kept = (counting.forward_passes - windows) / 40
    assert kept == int(kept) and 1 <= kept <= -(-windows // 2), counting.forward_passes


def test_bad_settings_are_refused():
    for settings, message in [({"base": "sess"}, "itself"), ({"scales": 13}, r"scales 13 must be in \[1, 12\]"), ({"drop": 1.0}, "drop")]:
        with pytest.raises(ValueError, match=message):
            create("sess", **settings)
    with pytest.raises(ValueError, match="unknown saliency method"):
        create("sess", base="lime")


def test_under_the_anchor_rule_one_scale_is_the_base_method_at_the_targets_anchor(case):
    """The anchor rule follows no detection: in each window the target is the anchor whose box best
    overlaps its moved box. At one scale the only window is the image, that anchor is the target's
    own, and SESS is its base method under the same rule."""
    from spectral_xai.detection import AnchorScore

    scorer, image, target = case
    anchored = DetectionScorer(scorer.detector, AnchorScore(), batch_size=8)
    alone = create("rise", n_masks=16)(anchored, image, target)
    fused = create("sess", base="rise", base_settings={"n_masks": 16}, scales=1, drop=0.0)(anchored, image, target)
    assert alone.max() > 0 and torch.allclose(fused, alone, atol=1e-6)


def test_under_the_anchor_rule_windows_in_several_batches_give_the_map_of_one_batch(case):
    from spectral_xai.detection import AnchorScore

    scorer, image, target = case
    maps = [create("sess", base="gradcam", scales=3)(DetectionScorer(scorer.detector, AnchorScore(), batch_size=size), image, target)
            for size in (2, 64)]
    assert maps[0].max() > 0 and torch.allclose(maps[0], maps[1], atol=1e-5)
