"""The edge baseline is OpenCV's Sobel magnitude of the input, summed over its channels: a map that
knows the image and nothing of the detector."""
import cv2
import numpy as np
import torch

from spectral_xai.detection import Target
from spectral_xai.explainers import create

from ..helpers.region_detector import region_scorer


def test_the_edge_map_is_opencvs_sobel_magnitude_summed_over_channels_and_ignores_the_detector():
    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    scorer = region_scorer()
    target = scorer.detector.decode(scorer.detector.raw(image[None]))
    box = Target.from_detections(target, rank=0)
    theirs = sum(np.hypot(cv2.Sobel(c, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE),
                          cv2.Sobel(c, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)) for c in image.numpy())
    ours = create("edges")(scorer, image, box)
    assert np.allclose(ours.numpy(), (theirs - theirs.min()) / (theirs.max() - theirs.min()), atol=1e-5)  # maps span [0, 1]
    moved = Target(box.box + 8, box.label, box.score, box.class_probs, box.anchor)
    assert torch.equal(create("edges")(scorer, image, moved), ours)  # the box plays no part
