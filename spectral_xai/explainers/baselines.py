"""Maps that know nothing of the detector, against which every method is measured: chance
(``random``), knowing only where the box is (``box``) and, asked for by name, the image's own edges
(``edges``: XAI-TRIS, Clark et al. 2024, found several methods that do not beat one). A method
that cannot beat them, paired box by box, has not shown that it explains the detector."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import SaliencyMethod, register
from .masks import upsample_mirrored
from ..detection import DetectionScorer, Target
from ..settings import Setting

#: Explained beside the configured methods unless a run's ``baselines`` setting is off.
BASELINES = ("random", "box")
#: Every map that knows nothing of the detector: a method is compared with each one a run explains.
REFERENCES = (*BASELINES, "edges")
#: A negative control's name is its method's with this: the method's map made on the fully
#: randomised net, scored on the trained one (``negative_controls``).
NEGATIVE_CONTROL = "@random_net"


def control_of(name: str) -> str | None:
    """The method a negative control's row ``name`` is the control of; None for any other row."""
    return name.removesuffix(NEGATIVE_CONTROL) if name.endswith(NEGATIVE_CONTROL) else None


@register("random", "baseline: a seeded smooth random map (8 x 8 noise upsampled), chance")
class RandomMap(SaliencyMethod):
    """A smooth random map: uniform noise on a ``grid`` x ``grid`` lattice, upsampled linearly, so
    that its blobs are about as large as RISE's. Drawn from ``seed`` and the target's anchor: the
    same box gets the same map, two boxes of one image different ones."""

    SETTINGS = {"grid": Setting(int, low=2), "seed": Setting(int, low=0)}
    stochastic = True

    def __init__(self, grid: int = 8, seed: int = 0):
        self.grid, self.seed = grid, seed

    def cost(self) -> str:
        return "none"

    def saliency(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + target.anchor)
        cells = torch.rand(1, self.grid, self.grid, generator=generator)
        return upsample_mirrored(cells, tuple(image.shape[-2:]))[0, 0].to(image.device)


@register("box", "baseline: a Gaussian on the explained box (sd half its width and height), knowing only where the box is")
class BoxPrior(SaliencyMethod):
    """A Gaussian centred on the explained box, with standard deviations ``spread`` x half its width
    and height: what a map shows that only knows where the detection is."""

    SETTINGS = {"spread": Setting(float, low=0, open="low")}

    def __init__(self, spread: float = 1.0):
        self.spread = spread

    def cost(self) -> str:
        return "none"

    def saliency(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        x1, y1, x2, y2 = target.box.tolist()
        height, width = image.shape[-2:]
        ys = torch.arange(height, dtype=torch.float32, device=image.device) + 0.5
        xs = torch.arange(width, dtype=torch.float32, device=image.device) + 0.5
        sigma_y, sigma_x = (max(self.spread * (b - a) / 2, 0.5) for a, b in ((y1, y2), (x1, x2)))
        gauss_y = torch.exp(-0.5 * ((ys - (y1 + y2) / 2) / sigma_y) ** 2)
        gauss_x = torch.exp(-0.5 * ((xs - (x1 + x2) / 2) / sigma_x) ** 2)
        return gauss_y[:, None] * gauss_x[None, :]


@register("edges", "baseline: the input's Sobel edge magnitude (summed over channels), no model")
class EdgeMap(SaliencyMethod):
    """Where the image has edges, whatever the box: the magnitude of its Sobel gradient, summed over
    its channels, with the border replicated. Knows the image and nothing of the detector."""

    SETTINGS: dict = {}

    def cost(self) -> str:
        return "none"

    def saliency(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        kernel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=image.device)
        padded = F.pad(image[:, None].float(), (1, 1, 1, 1), mode="replicate")  # [C, 1, H + 2, W + 2]
        gx, gy = (F.conv2d(padded, k[None, None]) for k in (kernel, kernel.T))
        return (gx ** 2 + gy ** 2).sqrt().sum(dim=(0, 1))
