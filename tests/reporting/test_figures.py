import numpy as np
import torch

from spectral_xai.detection import Target
from spectral_xai.results import SampleExplanation
from spectral_xai.reporting.figures import explanation_figure
from spectral_xai.reporting.spec import ImageSpec

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _normalised(rgb: tuple[float, float, float], size: int = 64) -> torch.Tensor:
    return ((torch.tensor(rgb)[:, None, None] - torch.tensor(MEAN)[:, None, None])
            / torch.tensor(STD)[:, None, None]).expand(3, size, size)


def _share(pixels: np.ndarray, colour: tuple[int, int, int]) -> float:
    return float((np.abs(pixels.astype(int) - colour).sum(-1) < 30).mean())


def test_an_early_fusion_figure_shows_every_spectrum_of_the_stack():
    """RGB half pure red, MIR half pure blue: the figure's top row shows red, its bottom row blue."""
    image = torch.cat([_normalised((1.0, 0.0, 0.0)), _normalised((0.0, 0.0, 1.0))])
    target = Target(box=torch.tensor([8.0, 8.0, 40.0, 40.0]), label=0, score=0.9, class_probs=torch.zeros(1), anchor=0)
    fused = explanation_figure(SampleExplanation("000001", "rgb+mir", image, [target], []), ImageSpec(["car"], MEAN, STD))
    top, bottom = fused[: fused.shape[0] // 2], fused[fused.shape[0] // 2:]
    assert _share(top, (255, 0, 0)) > 0.1 and _share(top, (0, 0, 255)) == 0
    assert _share(bottom, (0, 0, 255)) > 0.1 and _share(bottom, (255, 0, 0)) == 0
    single = explanation_figure(SampleExplanation("000001", "rgb", image[:3], [target], []), ImageSpec(["car"], MEAN, STD))
    assert fused.shape[0] > 1.8 * single.shape[0] and _share(single, (0, 0, 255)) == 0
