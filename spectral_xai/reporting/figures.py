"""Figures of explanations: per explained box, the image with its box, then one saliency overlay
per method; per scene, those rows for every net and spectrum that explained it.

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
    per explained box and spectrum of a stacked (early-fusion) input, so that every spectrum the
    net saw is shown."""
    return scene_grid([(title_prefix, explained, class_names, mean, std)], panel_inches)


GridRow = tuple[str, SampleExplanation, Sequence[str], Sequence[float], Sequence[float]]


def scene_grid(rows: Sequence[GridRow], panel_inches: float = 2.6) -> np.ndarray:
    """One figure of explanations stacked as rows (the paper's Figures 3 and 4 for one scene: rows
    net x spectrum, columns the image with its target box and each method's overlay). ``rows``:
    (title prefix, explanation, class names, mean, std) each; each explained box takes a row, and
    within it a stacked input one row per spectrum. Methods are placed in columns by name, so nets with other methods leave gaps."""
    methods = list(dict.fromkeys(r.method for _, explained, *_ in rows for r in explained.results))
    panels = []  # (title, image, target, {method: result})
    for prefix, explained, class_names, mean, std in rows:
        spectra = display_spectra(explained.image, mean, std)
        names = explained.spectrum.split("+") if len(spectra) > 1 else [explained.spectrum]
        for box, (target, box_results) in enumerate(explained.per_box()):
            results = {r.method: r for r in box_results}
            which = f" box {box + 1}/{len(explained.targets)}" if len(explained.targets) > 1 else ""
            label = f"{class_names[target.label]} {target.score:.2f}"
            panels += [(f"{prefix}{explained.sample_id} {name}{which}: {label}", image, target, results)
                       for image, name in zip(spectra, names)]
    fig = Figure(figsize=(panel_inches * (1 + len(methods)), (panel_inches + 0.5) * len(panels)))
    canvas = FigureCanvasAgg(fig)
    grid = fig.subplots(len(panels), 1 + len(methods), squeeze=False)
    for axes, (title, image, target, results) in zip(grid, panels):
        x1, y1, x2, y2 = (float(v) for v in target.box)
        for ax in axes:
            ax.imshow(image)
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=1.5))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0].set_title(title, fontsize=8)
        for ax, method in zip(axes[1:], methods):
            result = results.get(method)
            if result is None:
                ax.set_visible(False)
                continue
            if result.ok:
                ax.imshow(result.saliency.detach().cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.set_title(panel_title(result), fontsize=8)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
