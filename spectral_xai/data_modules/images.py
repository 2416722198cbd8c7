"""Reading the dataset's PNGs, whatever their bit depth and channel count, as float32 RGB."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(ValueError):
    """A PNG that cannot be decoded or has a layout the detector cannot take."""


def read_image(path: Path) -> np.ndarray:
    """Return an H x W x 3 float32 image in [0, 1].

    8-bit images are divided by 255. 16-bit images (thermal cameras store radiometric counts that
    fill only a narrow band of the 16-bit range) are stretched per image from their minimum to
    their maximum, which is what the 8-bit exports of such cameras do. A single channel is
    repeated three times (Bayer et al. 2021); a fourth (alpha) channel is dropped.
    """
    return as_float_rgb(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), path)


def as_float_rgb(image: np.ndarray | None, path: Path | str) -> np.ndarray:
    """A decoded image (OpenCV's array, None where it could not be decoded) as :func:`read_image` returns it."""
    if image is None:
        raise ImageReadError(f"{path}: cannot be decoded as an image (missing, truncated or not a PNG)")
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        image = image.astype(np.float32)
        low, high = float(image.min()), float(image.max())
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    else:
        raise ImageReadError(f"{path}: pixel type {image.dtype} is neither 8- nor 16-bit")
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels in (3, 4):
        return np.ascontiguousarray(image[:, :, 2::-1])  # OpenCV stores BGR(A)
    raise ImageReadError(f"{path}: {channels} channels; expected 1, 3 or 4")


def read_size_wh(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header, without decoding the pixels."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise ImageReadError(f"{path}: not a PNG file (bad header)")
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
