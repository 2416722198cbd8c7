"""One figure per explained box: the image with its box, then one saliency overlay per method."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # figures are written to files and loggers, never shown
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..explainers.pipeline import MethodResult  # noqa: E402


@dataclass
class Panel:
    title: str
    saliency: torch.Tensor | None  # [H, W] in [0, 1]; None for a panel that failed


def result_panel(result: MethodResult) -> Panel:
    """A method's overlay titled with its AUCs, or a marked empty panel where it failed."""
    if result.error is not None:
        return Panel(f"{result.method}: failed", None)
    return Panel(f"{result.method}\nins {result.insertion.auc:.3f} del {result.deletion.auc:.3f}", result.saliency)


def display_image(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Undo normalisation of the first spectrum (first 3 channels) -> H x W x 3 in [0, 1]."""
    rgb = image[:3].detach().cpu().float()
    rgb = rgb * torch.tensor(std[:3])[:, None, None] + torch.tensor(mean[:3])[:, None, None]
    return rgb.clamp(0, 1).permute(1, 2, 0).numpy()


def explanation_figure(image: np.ndarray, box: Sequence[float], box_title: str, panels: Sequence[Panel],
                       panel_inches: float = 2.6) -> np.ndarray:
    """RGB uint8 array of the figure: image + box, then each method's map over the image."""
    columns = 1 + len(panels)
    fig, axes = plt.subplots(1, columns, figsize=(panel_inches * columns, panel_inches + 0.5), squeeze=False)
    x1, y1, x2, y2 = (float(v) for v in box)
    for ax in axes[0]:
        ax.imshow(image)
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=1.5))
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_title(box_title, fontsize=8)
    for ax, panel in zip(axes[0][1:], panels):
        if panel.saliency is not None:
            ax.imshow(panel.saliency.detach().cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
        ax.set_title(panel.title, fontsize=8)
    fig.tight_layout()
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    plt.close(fig)
    return pixels
