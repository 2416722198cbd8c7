"""RISE for one detection (Petsiuk et al. 2018; the reference code is eclique/RISE)."""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch

from .base import MultiTargetMethod, register
from .masks import mirror_interpolation
from ..settings import Setting
from ..detection import DetectionScorer, Target, perturbed_matches


def rise_masks(n: int, grid: int, p: float, size: tuple[int, int], chunk: int, seed: int) -> Iterator[torch.Tensor]:
    """``n`` masks [chunk, 1, H, W], ``chunk`` at a time: an s x s grid keeping each cell with
    probability ``p``, upsampled linearly to (s+1) cells mirrored at the border (as the reference
    code and xaitk-saliency resize), then cropped at a random shift.

    The grids and shifts (s*s + 2 numbers a mask) are drawn up front so that the same seed gives
    the same masks whatever the chunk size; only image-sized masks are made chunk by chunk, each as
    rows @ grid @ cols^T with the interpolation rows of its crop."""
    h, w = size
    cell_h, cell_w = math.ceil(h / grid), math.ceil(w / grid)
    generator = torch.Generator().manual_seed(seed)
    cells = (torch.rand(n, grid, grid, generator=generator) < p).float()
    shift_y = torch.randint(0, cell_h, (n,), generator=generator)
    shift_x = torch.randint(0, cell_w, (n,), generator=generator)
    up_rows = mirror_interpolation(grid, (grid + 1) * cell_h)
    up_cols = mirror_interpolation(grid, (grid + 1) * cell_w)
    rows, cols = torch.arange(h), torch.arange(w)
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        crop_rows = up_rows[shift_y[part, None] + rows]  # [m, H, s]
        crop_cols = up_cols[shift_x[part, None] + cols]  # [m, W, s]
        yield torch.einsum("mHh,mhw,mWw->mHW", crop_rows, cells[part], crop_cols)[:, None]


@register("rise")
class RISE(MultiTargetMethod):
    """saliency = sum_i score_i * M_i / (N * p), where score_i is the target's score in the image
    masked by M_i (onto zeros) under the run's scoring rule (the paper's matched score). With the
    D-RISE similarity this is D-RISE, whose rule asks for each pixel to be divided by its own
    coverage sum_i M_i instead (xaitk-saliency's normalisation). Masks are made
    ``scorer.batch_size`` at a time. Paper setting: 500 masks, 8 x 8 grid, p = 0.1."""

    SETTINGS = {"n_masks": Setting(int, low=1), "grid": Setting(int, low=2), "p": Setting(float, 0, 1, open="both"),
                "seed": Setting(int, low=0)}
    stochastic = perturbs = True

    def __init__(self, n_masks: int = 500, grid: int = 8, p: float = 0.1, seed: int = 0):
        self.n_masks, self.grid, self.p, self.seed = n_masks, grid, p, seed

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """The masks do not depend on the target: every target is scored on the same masked
        images, so K targets cost the model evaluations of one."""
        masks = rise_masks(self.n_masks, self.grid, self.p, tuple(image.shape[-2:]), scorer.batch_size, self.seed)
        totals = torch.zeros(len(targets), *image.shape[-2:], device=image.device)
        coverage = torch.zeros(image.shape[-2:], device=image.device)
        for chunk, matches in perturbed_matches(scorer, image, targets, masks):
            scores = torch.stack([match.scores for match in matches])  # [K, n]
            totals += torch.einsum("kn,nhw->khw", scores, chunk[:, 0])
            coverage += chunk[:, 0].sum(dim=0)
        if scorer.rule.coverage_normalised:
            return list(totals / torch.where(coverage > 0, coverage, torch.ones_like(coverage)))
        return list(totals / (self.n_masks * self.p))
