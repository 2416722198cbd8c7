"""A detector whose answer is known: one box, whose score depends only on one region of the image.

The image (64 x 64) is cut into a 4 x 4 grid of 16-pixel tiles; feature channel k carries the
grey level of tile k only, pooled to an 8 x 8 map. The classifier head emits one detection, at a
fixed anchor (so a fixed box, elsewhere than the region), whose logit is
``gain * mean grey of tile REGION + bias``; every other logit is -10 and box regressions are 0.
Explanations of that detection must point at tile REGION.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectral_xai.detection import DetectionScorer, EffdetDetector, MatchedScore

SIZE, TILE, STRIDE, CLASSES = 64, 16, 8, 2
REGION = 5  # tile row 1, column 1: pixels [16:32, 16:32]
REGION_SLICE = (slice(16, 32), slice(16, 32))
ANCHOR_CELL = (6, 6)  # the detection's box: pixels [48:56, 48:56]
LABEL = 1
GAIN, BIAS = 8.0, -4.0


class RegionHead(nn.Module):
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        region_mean = features[:, REGION].sum(dim=(1, 2)) / (TILE // STRIDE) ** 2
        logit = GAIN * region_mean + BIAS
        cells = SIZE // STRIDE
        one_hot = torch.zeros(1, CLASSES, cells, cells, device=features.device)
        one_hot[0, LABEL, ANCHOR_CELL[0], ANCHOR_CELL[1]] = 1
        return -10 + one_hot * (logit[:, None, None, None] + 10)


class RegionNet(nn.Module):
    def __init__(self):
        super().__init__()
        tiles = torch.zeros(16, 1, SIZE, SIZE)
        for k in range(16):
            r, c = divmod(k, 4)
            tiles[k, 0, r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = 1
        self.register_buffer("tiles", tiles[:, 0])
        self.class_net = nn.Module()
        self.class_net.predict = RegionHead()

    def forward(self, x: torch.Tensor):
        grey = x.mean(dim=1, keepdim=True)  # [B, 1, H, W]
        features = F.avg_pool2d(grey * self.tiles[None], STRIDE)  # [B, 16, 8, 8]
        logits = self.class_net.predict(features)
        boxes = torch.zeros(x.shape[0], 4, SIZE // STRIDE, SIZE // STRIDE, device=x.device)
        return [logits], [boxes]


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
