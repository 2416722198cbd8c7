"""Small images of one explained scene, made where the scene was explained and sent to whatever
logs them: the scene's figure (every box, every method) and, for a table, the input and each
method's overlay as separate cells with the boxes as data, not pixels, so that a dashboard can
draw, toggle and caption them. Every image is bounded by one size setting (``pixels``): a large
input is shrunk to fit, never dropped."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

from ..results import SampleExplanation
from .figures import display_spectra, explanation_figure
from .spec import ImageSpec

#: The longest side of a table cell; a figure is bounded to this per panel. At 256 px one explained
#: epoch of the paper's config (16 scenes x 6 methods at 512 px) adds 1.75 MB to a W&B run on the
#: synthetic scenes and at most 5 MB with noise in every pixel (benchmarks/wandb_media.py).
DEFAULT_PIXELS = 256


def fit_within(image: np.ndarray, longest: int) -> np.ndarray:
    """``image`` (H x W x 3 uint8) shrunk, aspect kept, so that neither side exceeds ``longest``."""
    height, width = image.shape[:2]
    scale = longest / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def overlay(image: np.ndarray, saliency: torch.Tensor | None) -> np.ndarray:
    """The map in the figures' colours (jet, half transparent) over ``image`` (H x W x 3 in [0, 1]),
    as uint8; the bare image where there is no map (a failed method)."""
    if saliency is None:
        return _uint8(image)
    heat = colormaps["jet"](saliency.detach().float().cpu().clamp(0, 1).numpy())[..., :3]
    return _uint8(0.5 * image + 0.5 * heat)


def _uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


@dataclass(frozen=True)
class BoxData:
    """A box in a cell's pixels, with what a dashboard shows beside it."""

    box: tuple[float, float, float, float]
    label: int
    score: float | None = None  # None for an annotated object
    kind: str = "annotated"


@dataclass
class SceneMedia:
    """One explained scene (one net, one spectrum set) as small images.

    ``name`` keys it (``<scene>_<spectrum>``, prefixed by the net in explain.py); ``figure`` is
    the scene's figure; ``image`` the input's first spectrum; ``overlays`` per (box, method) that
    method's map over it; ``targets`` the explained boxes and ``annotated`` the annotated objects,
    both in the cells' pixels."""

    name: str
    sample_id: str
    spectrum: str
    figure: np.ndarray
    image: np.ndarray
    overlays: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    targets: list[BoxData] = field(default_factory=list)
    annotated: list[BoxData] = field(default_factory=list)


def scene_media(explained: SampleExplanation, spec: ImageSpec, pixels: int = DEFAULT_PIXELS, figure_inches: float = 2.6, prefix: str = "",
                figure: np.ndarray | None = None) -> SceneMedia:
    """``explained`` as :class:`SceneMedia`; ``prefix`` names the net where several are logged;
    ``figure``: its :func:`explanation_figure` where the caller drew it already (drawn otherwise)."""
    if figure is None:
        figure = explanation_figure(explained, spec, title_prefix=f"{prefix} | " if prefix else "",
                                    panel_inches=figure_inches)
    # The figure's panels are figure_inches wide at matplotlib's 100 dpi; each is bounded like a cell.
    figure = fit_within(figure, round(max(figure.shape[:2]) * min(1.0, pixels / (figure_inches * 100))))
    shown = display_spectra(explained.image, spec)[0]
    cell = fit_within(_uint8(shown), pixels)
    scale = cell.shape[1] / shown.shape[1]
    overlays = {}
    for result in explained.results:
        overlays[result.box, result.method] = fit_within(overlay(shown, result.saliency if result.ok else None), pixels)
    targets = [BoxData(_scaled(t.box, scale), t.label, float(t.score), t.kind) for t in explained.targets]
    annotated = [BoxData(_scaled(o.box, scale), o.label) for o in explained.objects]
    name = f"{prefix}_{explained.sample_id}_{explained.spectrum}" if prefix else f"{explained.sample_id}_{explained.spectrum}"
    return SceneMedia(name, explained.sample_id, explained.spectrum, figure, cell, overlays, targets, annotated)


def _scaled(box: Sequence[float] | torch.Tensor, scale: float) -> tuple[float, float, float, float]:
    return tuple(round(float(v) * scale, 1) for v in box)
