"""RISE for one detection (Petsiuk et al. 2018; the reference code is eclique/RISE), with a mask
count that can be left to the map's own reliability."""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import count
from typing import Any, Iterator, Sequence

import torch

from .base import MapInfo, MultiTargetMethod, derived_seed, register
from .masks import mirror_interpolation
from ..settings import Setting, SettingsError
from ..detection import DetectionScorer, Target, perturbed_matches

#: Under ``n_masks: auto`` masks come in blocks of this many, each block from a seed of its own
#: (so that the masks do not depend on where drawing stopped), alternate blocks making the two halves.
AUTO_BLOCK = 128
#: Under ``auto``, a target that no mask has re-identified after this many masks (twice the paper's
#: 500) is given up as blank rather than holding its image's drawing to ``max_masks``.
AUTO_BLANK_AFTER = 8 * AUTO_BLOCK


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


def split_half_reliability(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Per target, the Pearson correlation of two independent half-maps [K, H, W], stepped up by
    Spearman-Brown to the map made of both halves: 2r / (1 + r). NaN where a half is constant (no
    mask re-identified the target)."""
    a, b = first.flatten(1).double(), second.flatten(1).double()
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    denominator = (a.square().sum(dim=1) * b.square().sum(dim=1)).sqrt()
    r = (a * b).sum(dim=1) / denominator
    r = torch.where(denominator > 0, r, torch.full_like(r, math.nan))
    return (2 * r / (1 + r)).float()


@dataclass
class _Half:
    """One half of the masks: the score-weighted sum per target, the coverage and the count."""

    totals: torch.Tensor  # [K, H, W]
    coverage: torch.Tensor  # [H, W]
    masks: int = 0

    def add(self, masks: torch.Tensor, scores: torch.Tensor) -> None:
        self.totals += torch.einsum("kn,nhw->khw", scores, masks[:, 0])
        self.coverage += masks[:, 0].sum(dim=0)
        self.masks += len(masks)


@dataclass(frozen=True)
class _MaskCount(Setting):
    """A number of masks >= 1, or ``auto``."""

    def check(self, owner: str, name: str, value: Any) -> Any:
        if value == "auto":
            return value
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SettingsError(f"{owner}: {name} {value!r} must be a number of masks >= 1 or 'auto'")
        return value

    def allowed(self) -> str:
        return "int >= 1, or auto"


@register("rise", "RISE: random masks weighted by the box's score in each masked image; D-RISE with scoring rule drise")
class RISE(MultiTargetMethod):
    """saliency = sum_i score_i * M_i / (N * p), where score_i is the target's score in the image
    masked by M_i (onto zeros) under the run's scoring rule (the paper's matched score). With the
    D-RISE similarity this is D-RISE, whose rule asks for each pixel to be divided by its own
    coverage sum_i M_i instead (xaitk-saliency's normalisation). Masks are made
    ``scorer.batch_size`` at a time. Paper setting: 500 masks, 8 x 8 grid, p = 0.1.

    Every map reports its split-half reliability: the masks fall into two halves (alternate chunks),
    each half makes a map, and the correlation of the two, stepped up by Spearman-Brown to the whole,
    estimates how well the map would correlate with one from an independent set of as many masks.
    ``n_masks: auto`` draws masks in blocks of :data:`AUTO_BLOCK` until every target of the image
    reaches ``reliability`` (checked after each pair of blocks) or ``max_masks`` are used; a target
    that no mask has re-identified after :data:`AUTO_BLANK_AFTER` masks (a blank map, NaN
    reliability) stops holding the others back."""

    SETTINGS = {"n_masks": _MaskCount(int), "grid": Setting(int, low=2), "p": Setting(float, 0, 1, open="both"),
                "seed": Setting(int, low=0), "reliability": Setting(float, 0, 1, open="both"),
                "max_masks": Setting(int, low=2 * AUTO_BLOCK)}
    stochastic = perturbs = True

    def __init__(self, n_masks: int | str = 500, grid: int = 8, p: float = 0.1, seed: int = 0, reliability: float = 0.9,
                 max_masks: int = 8000):
        self.n_masks, self.grid, self.p, self.seed = n_masks, grid, p, seed
        self.reliability, self.max_masks = reliability, max_masks

    def describe(self) -> str:
        if self.n_masks == "auto":
            return super().describe()
        return ", ".join(part for part in super().describe().split(", ")
                         if not part.startswith(("reliability ", "max_masks ")))

    def cost(self) -> str:
        if self.n_masks == "auto":
            return f"{2 * AUTO_BLOCK} to {self.max_masks} fwd, until split-half reliability {self.reliability}"
        return f"{self.n_masks} fwd"

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        return [saliency for saliency, _ in self.saliency_reported(scorer, image, targets)]

    def saliency_reported(self, scorer: DetectionScorer, image: torch.Tensor,
                          targets: Sequence[Target]) -> list[tuple[torch.Tensor, MapInfo]]:
        """The masks do not depend on the target: every target is scored on the same masked
        images, so K targets cost the model evaluations of one."""
        size = tuple(image.shape[-2:])
        halves = [_Half(torch.zeros(len(targets), *size, device=image.device), torch.zeros(size, device=image.device))
                  for _ in range(2)]
        by_coverage = torch.tensor([scorer.rule.normalised_by_coverage(target) for target in targets], device=image.device)
        for number, block in enumerate(self._blocks(size, scorer.batch_size)):
            for chunk, matches in perturbed_matches(scorer, image, targets, block):
                halves[number % 2].add(chunk, torch.stack([match.scores for match in matches]))
            if self.n_masks == "auto" and number % 2 and self._settled(halves, by_coverage):
                break
        reliability = split_half_reliability(*(self._normalised(h.totals, h.coverage, h.masks, by_coverage) for h in halves))
        used = halves[0].masks + halves[1].masks
        maps = self._normalised(halves[0].totals + halves[1].totals, halves[0].coverage + halves[1].coverage, used,
                                by_coverage)
        return [(saliency, MapInfo(used, float(r))) for saliency, r in zip(maps, reliability)]

    def _blocks(self, size: tuple[int, int], chunk: int) -> Iterator[Iterator[torch.Tensor]]:
        """Streams of masks whose alternate members make the two halves: each chunk of the fixed
        count's masks, or under ``auto`` each block, up to ``max_masks``."""
        if self.n_masks != "auto":
            yield from ([masks] for masks in rise_masks(self.n_masks, self.grid, self.p, size, chunk, self.seed))
            return
        for block in count():
            left = self.max_masks - block * AUTO_BLOCK
            if left <= 0:
                return
            yield rise_masks(min(AUTO_BLOCK, left), self.grid, self.p, size, chunk, derived_seed(self.seed, block))

    def _settled(self, halves: list[_Half], by_coverage: torch.Tensor) -> bool:
        reliability = split_half_reliability(*(self._normalised(h.totals, h.coverage, h.masks, by_coverage) for h in halves))
        blank = reliability.isnan() & (halves[0].masks + halves[1].masks >= AUTO_BLANK_AFTER)
        return bool(((reliability >= self.reliability) | blank).all())

    def _normalised(self, totals: torch.Tensor, coverage: torch.Tensor, masks: int, by_coverage: torch.Tensor) -> torch.Tensor:
        """Each target's map [K, H, W] by its rule's normalisation (``by_coverage`` [K])."""
        covered = totals / torch.where(coverage > 0, coverage, torch.ones_like(coverage))
        return torch.where(by_coverage[:, None, None], covered, totals / (max(masks, 1) * self.p))
