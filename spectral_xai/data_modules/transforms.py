"""Albumentations pipelines: resize to the network input, augment, normalise.

All spectra of a sample travel as one stacked array, so every geometric transform moves them and
their boxes identically; colour transforms run only on 3-channel inputs (albumentations needs 1 or 3).
"""
from __future__ import annotations

from typing import Sequence

import albumentations as A
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_transform(
    image_size: int,
    channels: int,
    mean: Sequence[float],
    std: Sequence[float],
    train: bool,
    seed: int | None = None,
) -> A.Compose:
    """``mean``/``std`` are per input channel (length ``channels``); images arrive in [0, 1].
    ``seed`` starts the pipeline's own random state: albumentations 2 draws from it alone, so neither
    torch's nor numpy's global seed reaches the augmentations (``None``: a fresh random state)."""
    steps: list[A.BasicTransform] = []
    if train:
        steps += [
            A.HorizontalFlip(p=0.5),
            A.Affine(scale=(0.85, 1.15), translate_percent=(-0.06, 0.06), p=0.5),
        ]
        if channels == 3:
            steps.append(A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.15, p=0.5))
    steps += [
        A.Resize(image_size, image_size),
        A.Normalize(mean=list(mean), std=list(std), max_pixel_value=1.0),
    ]
    return A.Compose(
        steps,
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"], clip=True, min_area=4.0),
        seed=seed,
    )


def input_to_image(image: np.ndarray, transformed: np.ndarray) -> tuple[float, float]:
    """x and y factors from the net's input back to ``image``'s pixels: evaluation's transform is a
    plain resize, width and height scaled apart."""
    return image.shape[1] / transformed.shape[1], image.shape[0] / transformed.shape[0]
