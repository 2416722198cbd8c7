"""ROAD's fill (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
Methods"): each removed pixel becomes the weighted mean of its eight neighbours, kept or imputed
alike, plus a little Gaussian noise.

Zeros and a blur leave the removed pixels' shape in the image, and a detector reads that shape: the
AUC then measures which pixels were removed as much as what they held. Noisy linear imputation
continues the image across the hole, so that what leaks is as little of the mask as a local fill
allows. The imputed values solve one sparse linear system per image (for every removed pixel: its
value times its in-image neighbours' weight equals the weighted sum of its neighbours), all of a
chunk's steps in one block-diagonal system. A hole that touches no kept pixel (the last step of
deletion removes all of them) has nothing to continue and takes the dataset's mean colour, as the
``zeros`` fill does. Agrees with pytorch-grad-cam's ``NoisyLinearImputer`` (the authors' code)
where the noise is off; their neighbour weights are the paper's.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

#: (dy, dx, weight) of each neighbour: the authors' weights, edges 1/6 and corners 1/12.
NEIGHBOURS = ((1, 1, 1 / 12), (0, 1, 1 / 6), (-1, 1, 1 / 12), (1, -1, 1 / 12), (0, -1, 1 / 6), (-1, -1, 1 / 12),
              (1, 0, 1 / 6), (-1, 0, 1 / 6))
#: The noise's standard deviation in the detector's input space (the authors' 0.01).
NOISE = 0.01


def road_fill(image: torch.Tensor, masks: torch.Tensor, noise: float = NOISE, seed: int = 0) -> torch.Tensor:
    """Per mask [n, 1, H, W] (1 where the image is kept), the image [C, H, W] with its removed
    pixels imputed [n, C, H, W]. The noise is drawn from ``seed`` and the mask's place in the chunk
    is not part of it: the same image and masks give the same fill."""
    c, h, w = image.shape
    pixels = image.detach().cpu().double().reshape(c, h * w).numpy()
    removed = masks.detach().cpu().reshape(len(masks), h * w).numpy() < 0.5
    values = _imputed(pixels, removed, h, w)
    filled = np.repeat(pixels[None], len(masks), 0)
    for i, (where, imputed) in enumerate(zip(removed, values)):
        filled[i][:, where] = imputed
    out = torch.from_numpy(filled).to(image.dtype).reshape(len(masks), c, h, w)
    if noise > 0:
        generator = torch.Generator().manual_seed(seed)
        shown = torch.from_numpy(~removed).reshape(len(masks), 1, h, w)
        out = torch.where(shown, out, out + noise * torch.randn(out.shape, generator=generator, dtype=out.dtype))
    return out.to(image.device)


def _imputed(pixels: np.ndarray, removed: np.ndarray, h: int, w: int) -> list[np.ndarray]:
    """For each row of ``removed`` [n, H*W], the imputed values [C, removed pixels] of ``pixels``
    [C, H*W]: one block-diagonal system for all of them."""
    rows, cols, weights, rhs, diagonal, touches_kept, counts = [], [], [], [], [], [], []
    offset = 0
    for where in removed:
        unknown = np.flatnonzero(where)
        m = len(unknown)
        variable = np.full(h * w, -1)
        variable[unknown] = np.arange(m) + offset
        y, x = np.divmod(unknown, w)
        b = np.zeros((m, pixels.shape[0]))
        total = np.zeros(m)
        anchored = np.zeros(m, dtype=bool)
        for dy, dx, weight in NEIGHBOURS:
            ny, nx = y + dy, x + dx
            inside = np.flatnonzero((ny >= 0) & (ny < h) & (nx >= 0) & (nx < w))
            neighbour = (ny * w + nx)[inside]
            total[inside] += weight
            kept = variable[neighbour] < 0
            b[inside[kept]] += weight * pixels[:, neighbour[kept]].T
            anchored[inside[kept]] = True
            rows.append(inside[~kept] + offset)
            cols.append(variable[neighbour[~kept]])
            weights.append(np.full(int((~kept).sum()), -weight))
        rhs.append(b)
        diagonal.append(total)
        touches_kept.append(anchored)
        counts.append(m)
        offset += m
    if offset == 0:
        return [np.zeros((pixels.shape[0], 0)) for _ in removed]
    every = np.arange(offset)
    system = coo_matrix((np.concatenate([*weights, np.concatenate(diagonal)]),
                         (np.concatenate([*rows, every]), np.concatenate([*cols, every]))), shape=(offset, offset)).tocsr()
    b = np.concatenate(rhs)
    # A hole none of whose pixels has a kept neighbour has no solution but a constant: it is left at
    # 0, the mean colour, and out of the system (which would otherwise be singular).
    _, component = connected_components(system, directed=False)
    solvable = np.isin(component, np.unique(component[np.concatenate(touches_kept)]))
    solution = np.zeros_like(b)
    if solvable.any():
        part = system[solvable][:, solvable].tocsc()
        solved = spsolve(part, b[solvable])
        solution[solvable] = solved.reshape(int(solvable.sum()), -1)
    return np.split(solution.T, np.cumsum(counts)[:-1], axis=1)
