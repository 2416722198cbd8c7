"""ROAD's fill against the authors' imputer (pytorch-grad-cam's copy of it), on masks a saliency
order makes."""
import pytest
import torch
from pytorch_grad_cam.metrics.road import NoisyLinearImputer

from spectral_xai.metrics.insertion_deletion import _step_masks
from spectral_xai.metrics.road import road_fill


@pytest.fixture(scope="module")
def image_and_masks():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(3, 40, 48, generator=generator)
    saliency = torch.rand(40, 48, generator=generator)
    saliency[8:24, 10:30] += 1  # a blob first, then scattered pixels: holes of every shape
    order = torch.argsort(saliency.flatten(), descending=True, stable=True)
    masks = torch.cat(list(_step_masks(order, (40, 48), 0.1, 32, keep_first=False)))
    return image, masks


def test_the_fill_equals_the_authors_imputer_without_noise_at_every_step(image_and_masks):
    image, masks = image_and_masks
    ours = road_fill(image, masks, noise=0)
    imputer = NoisyLinearImputer(noise=0)
    for mask, filled in zip(masks[1:-1], ours[1:-1]):  # the first keeps all; the last is below
        assert (filled - imputer(image, mask[0])).abs().max() < 1e-5
    assert torch.equal(ours[0], image)


def test_a_hole_that_touches_no_kept_pixel_takes_the_mean_colour():
    image = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(1))
    everything = road_fill(image, torch.zeros(1, 1, 20, 20), noise=0)
    assert torch.equal(everything[0], torch.zeros_like(image))  # the last step of deletion: as zeros
    mask = torch.ones(1, 1, 20, 20)
    mask[0, 0, 5:10, 5:10] = 0  # a hole that touches kept pixels is continued from them
    filled = road_fill(image, mask, noise=0)[0]
    assert filled[:, 5:10, 5:10].abs().min() > 0 and torch.equal(filled[:, mask[0, 0] > 0], image[:, mask[0, 0] > 0])


def test_the_noise_is_reproducible_and_only_on_removed_pixels(image_and_masks):
    image, masks = image_and_masks
    first, again, other = road_fill(image, masks), road_fill(image, masks), road_fill(image, masks, seed=1)
    assert torch.equal(first, again) and not torch.equal(first, other)
    kept = masks.expand_as(first) > 0
    assert torch.equal(first[kept], image.expand_as(first)[kept])
    noise = (first - road_fill(image, masks, noise=0))[~kept]
    assert noise.std().item() == pytest.approx(0.01, rel=0.1)
