"""One figure per explained box: the image with its box, then one saliency overlay per method.

Figures are drawn on matplotlib's Agg canvas directly, not through pyplot, so that importing this
package changes no global matplotlib state (backend, open figures) of the program that imports it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..evaluation import BoxResult, SampleExplanation


def panel_title(result: BoxResult) -> str:
    """A method's name with its AUCs, or marked as failed."""
    if not result.ok:
        return f"{result.method}: failed"
    return f"{result.method}\nins {result.insertion.auc:.3f} del {result.deletion.auc:.3f}"


def display_spectra(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> list[np.ndarray]:
    """Undo normalisation of each spectrum of the input (3 channels each; ``mean``/``std`` are
    given for one spectrum) -> one H x W x 3 array in [0, 1] per spectrum."""
    channels = image.detach().cpu().float()
    mean, std = torch.tensor(mean[:3])[:, None, None], torch.tensor(std[:3])[:, None, None]
    return [(channels[i:i + 3] * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
            for i in range(0, channels.shape[0], 3)]


def explanation_figure(explained: SampleExplanation, class_names: Sequence[str], mean: Sequence[float],
                       std: Sequence[float], title_prefix: str = "", panel_inches: float = 2.6) -> np.ndarray:
    """RGB uint8 array of the figure: image + box, then each method's map over the image; one row
    per spectrum of a stacked (early-fusion) input, so that every spectrum the net saw is shown."""
    spectra = display_spectra(explained.image, mean, std)
    names = explained.spectrum.split("+") if len(spectra) > 1 else [explained.spectrum]
    target = explained.target
    columns = 1 + len(explained.results)
    fig = Figure(figsize=(panel_inches * columns, (panel_inches + 0.5) * len(spectra)))
    canvas = FigureCanvasAgg(fig)
    grid = fig.subplots(len(spectra), columns, squeeze=False)
    x1, y1, x2, y2 = (float(v) for v in target.box)
    for axes, image, name in zip(grid, spectra, names):
        for ax in axes:
            ax.imshow(image)
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=1.5))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0].set_title(f"{title_prefix}{explained.sample_id} {name}: "
                          f"{class_names[target.label]} {target.score:.2f}", fontsize=8)
        for ax, result in zip(axes[1:], explained.results):
            if result.ok:
                ax.imshow(result.saliency.detach().cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.set_title(panel_title(result), fontsize=8)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
