"""Upsampling coarse masks to the image, as the perturbation methods' reference code does it."""
from __future__ import annotations

import torch


def mirror_interpolation(source: int, target: int) -> torch.Tensor:
    """[target, source]: linear interpolation from ``source`` cells to ``target`` pixels, pixel
    centres aligned (half-pixel), mirrored at the border without repeating the edge cell:
    scikit-image's ``resize(order=1, mode="reflect", anti_aliasing=False)``, which RISE's reference
    code (eclique/RISE), xaitk-saliency and SIDU's reference code upsample with. Repeating the edge
    instead (PyTorch's bilinear) changes the outer half cell of every mask."""
    weights = torch.zeros(target, source)
    if source == 1:
        return weights + 1
    x = (torch.arange(target, dtype=torch.float64) + 0.5) * source / target - 0.5
    x = torch.where(x < 0, -x, x)
    x = torch.where(x > source - 1, 2 * (source - 1) - x, x)
    low = x.floor().long().clamp(max=source - 2)
    frac = (x - low).float()
    rows = torch.arange(target)
    weights[rows, low] = 1 - frac
    weights[rows, low + 1] += frac
    return weights


def upsample_mirrored(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``maps`` [N, h, w] resized to [N, 1, *size] by :func:`mirror_interpolation` on each axis."""
    rows = mirror_interpolation(maps.shape[-2], size[0]).to(maps)
    cols = mirror_interpolation(maps.shape[-1], size[1]).to(maps)
    return torch.einsum("Hh,nhw,Ww->nHW", rows, maps, cols)[:, None]
