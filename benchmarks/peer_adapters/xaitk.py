"""Our detections in xaitk-saliency's D-RISE format (shared by the cross-check tests and
benchmarks/peers.py): per image every detection (no floor) as box, objectness, class vector, with
the detection's confidence as objectness (EfficientDet has no objectness head) and boxes moved to
xaitk's inclusive-pixel IoU convention (x2 - 1, y2 - 1 give the same IoU as ours)."""
from __future__ import annotations

import numpy as np
import torch
from xaitk_saliency.utils.detection import format_detection

from spectral_xai.detection import EffdetDetector, Target

INCLUSIVE = torch.tensor([0.0, 0.0, 1.0, 1.0])


def reference_detections(targets: list[Target]) -> np.ndarray:
    """The explained detections, [K, 4 + 1 + C]."""
    return format_detection(torch.stack([t.box.cpu() - INCLUSIVE for t in targets]).numpy(),
                            torch.stack([t.class_probs.cpu() for t in targets]).numpy())


@torch.no_grad()
def perturbed_detections(detector: EffdetDetector, images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Every detection of each image, [N, D, 4 + 1 + C], padded with zero rows."""
    per_image = []
    for chunk in images.split(batch_size):
        found = detector(chunk, 0.0)
        for boxes, probs, labels in zip(found.boxes, found.class_probs, found.labels):
            keep = labels >= 0
            per_image.append(format_detection((boxes[keep] - INCLUSIVE).numpy(), probs[keep].numpy(),
                                              probs[keep].amax(dim=-1).numpy()))
    width = max(len(d) for d in per_image)
    return np.stack([np.concatenate([d, np.zeros((width - len(d), d.shape[1]))]) for d in per_image])
