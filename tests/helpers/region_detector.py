"""A detector whose answer is known: one box, whose score depends only on one region of the image.

The image (64 x 64) is cut into a 4 x 4 grid of 16-pixel tiles; feature channel k carries the
grey level of tile k only, pooled to an 8 x 8 map. The classifier head emits one detection, at a
fixed anchor (so a box elsewhere than the region), whose logit is
``gain * mean grey of tile REGION + bias``; every other logit is -10. Box regressions are 0 but for
the detection's tx (its horizontal shift), ``BOX_GAIN * mean grey of tile BOX_REGION``: less than a
pixel, so the box still matches itself under any perturbation. Explanations of the detection's
class must point at tile REGION, explanations of its horizontal corners at tile BOX_REGION.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectral_xai.detection import DetectionScorer, EffdetDetector, MatchedScore, Target

SIZE, TILE, STRIDE, CLASSES = 64, 16, 8, 2
REGION = 5  # tile row 1, column 1: pixels [16:32, 16:32]
REGION_SLICE = (slice(16, 32), slice(16, 32))
ANCHOR_CELL = (6, 6)  # the detection's box: pixels [48:56, 48:56]
BOX_REGION = 10  # tile row 2, column 2: pixels [32:48, 32:48]
BOX_REGION_SLICE = (slice(32, 48), slice(32, 48))
LABEL = 1
GAIN, BIAS = 8.0, -4.0
BOX_GAIN = 0.1


class RegionHead(nn.Module):
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        region_mean = features[:, REGION].sum(dim=(1, 2)) / (TILE // STRIDE) ** 2
        logit = GAIN * region_mean + BIAS
        cells = SIZE // STRIDE
        one_hot = torch.zeros(1, CLASSES, cells, cells, device=features.device)
        one_hot[0, LABEL, ANCHOR_CELL[0], ANCHOR_CELL[1]] = 1
        return -10 + one_hot * (logit[:, None, None, None] + 10)


class ClassNet(nn.Module):
    """Named as effdet's class head, so that a method can tap its input (layer ``class_net``)."""

    def __init__(self):
        super().__init__()
        self.predict = RegionHead()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.predict(features)


class BoxNet(nn.Module):
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        cells = SIZE // STRIDE
        boxes = torch.zeros(features.shape[0], 4, cells, cells, device=features.device)
        shift = BOX_GAIN * features[:, BOX_REGION].sum(dim=(1, 2)) / (TILE // STRIDE) ** 2
        boxes[:, 1, ANCHOR_CELL[0], ANCHOR_CELL[1]] = shift  # effdet's order: ty tx th tw
        return boxes


class RegionNet(nn.Module):
    def __init__(self):
        super().__init__()
        tiles = torch.zeros(16, 1, SIZE, SIZE)
        for k in range(16):
            r, c = divmod(k, 4)
            tiles[k, 0, r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = 1
        self.register_buffer("tiles", tiles[:, 0])
        self.class_net = ClassNet()
        self.box_net = BoxNet()

    def forward(self, x: torch.Tensor):
        grey = x.mean(dim=1, keepdim=True)  # [B, 1, H, W]
        features = F.avg_pool2d(grey * self.tiles[None], STRIDE)  # [B, 16, 8, 8]
        return [self.class_net(features)], [self.box_net(features)]


def region_detector() -> EffdetDetector:
    cells = SIZE // STRIDE
    y, x = torch.meshgrid(torch.arange(cells), torch.arange(cells), indexing="ij")
    anchors = torch.stack([y * STRIDE, x * STRIDE, (y + 1) * STRIDE, (x + 1) * STRIDE], -1).reshape(-1, 4).float()
    return EffdetDetector(RegionNet(), anchors, CLASSES, max_detection_points=cells * cells * CLASSES).eval()


def region_scorer(batch_size: int = 16) -> DetectionScorer:
    """The region detector with the paper's rule (score >= 0.05, IoU >= 0.5)."""
    return DetectionScorer(region_detector(), MatchedScore(), batch_size)


def expected_score(image: torch.Tensor) -> float:
    """The detection's score on ``image`` [C, H, W] by the rule, computed directly."""
    region = image.mean(dim=0)[REGION_SLICE].mean()
    score = torch.sigmoid(GAIN * region + BIAS).item()
    return score if score >= 0.05 else 0.0


def region_case() -> tuple[DetectionScorer, torch.Tensor, Target]:
    """The region scorer, a seeded bright random image and its one detection."""
    scorer = region_scorer()
    image = 0.6 + 0.4 * torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        target = Target.from_detections(scorer.detector(image[None]))
    return scorer, image, target
