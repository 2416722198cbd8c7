"""Figures of explanations: per explained box, the image with its box, then one saliency overlay
per method; per scene, those rows for every net and spectrum that explained it.

Figures are drawn on matplotlib's Agg canvas directly, not through pyplot, so that importing this
package changes no global matplotlib state (backend, open figures) of the program that imports it.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..detection import Target
from ..results import BoxResult, SampleExplanation, SanityResult
from ..metrics import registry
from .spec import ImageSpec


def panel_title(result: BoxResult) -> str:
    """A method's name with its AUCs, or marked as failed."""
    if not result.ok:
        return f"{result.method}: failed"
    return f"{result.method}\n" + " ".join(f"{m.short[:3]} {result.value(m.name):.3f}"
                                            for m in registry.held([result], registry.primary()))


def display_spectra(image: torch.Tensor, spec: ImageSpec) -> list[np.ndarray]:
    """Undo normalisation of each spectrum of the input (3 channels each; the spec's ``mean`` and
    ``std`` are given for one spectrum) -> one H x W x 3 array in [0, 1] per spectrum."""
    channels = image.detach().cpu().float()
    mean, std = torch.tensor(spec.mean[:3])[:, None, None], torch.tensor(spec.std[:3])[:, None, None]
    return [(channels[i:i + 3] * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
            for i in range(0, channels.shape[0], 3)]


def explanation_figure(explained: SampleExplanation, spec: ImageSpec, title_prefix: str = "",
                       panel_inches: float = 2.6) -> np.ndarray:
    """RGB uint8 array of the figure: image + box, then each method's map over the image; one row
    per explained box and spectrum of a stacked (early-fusion) input, so that every spectrum the
    net saw is shown."""
    return scene_grid([(title_prefix, explained, spec)], panel_inches)


GridRow = tuple[str, SampleExplanation, ImageSpec]
#: Panels per figure row: a box with more methods wraps onto further rows, so that at 100 % zoom
#: in a report 1400 px wide a panel stays over 160 px and its title legible.
MAX_COLUMNS = 6


def scene_grid(rows: Sequence[GridRow], panel_inches: float = 2.6) -> np.ndarray:
    """One figure of explanations stacked as rows (the paper's Figures 3 and 4 for one scene: rows
    net x spectrum, columns the image with its target box and each method's overlay). ``rows``:
    (title prefix, explanation, the net's ImageSpec) each; each explained box takes a row, and
    within it a stacked input one row per spectrum, wrapped after :data:`MAX_COLUMNS` panels.
    Methods keep their places by name, so nets with other methods leave gaps."""
    methods = list(dict.fromkeys(r.method for _, explained, *_ in rows for r in explained.results))
    columns = min(1 + len(methods), MAX_COLUMNS)
    lines = []  # one list of panels per figure row: (title, image, target, saliency or None, shown)
    for prefix, explained, spec in rows:
        spectra = display_spectra(explained.image, spec)
        names = explained.spectrum.split("+") if len(spectra) > 1 else [explained.spectrum]
        for box, (target, box_results) in enumerate(explained.per_box()):
            results = {r.method: r for r in box_results}
            which = f" box {box + 1}/{len(explained.targets)}" if len(explained.targets) > 1 else ""
            kind = "" if target.kind == "detection" else f" ({target.kind.replace('_', ' ')})"
            label = f"{spec.class_names[target.label]} {target.score:.2f}{kind}"
            for image, name in zip(spectra, names):
                panels = [(f"{_own_line(prefix)}{explained.sample_id} {name}{which}:\n{label}", image, target, None, True)]
                for method in methods:
                    result = results.get(method)
                    panels.append(("", image, target, None, False) if result is None else
                                  (panel_title(result), image, target, result.saliency if result.ok else None, True))
                lines += [panels[i:i + columns] for i in range(0, len(panels), columns)]
    fig, canvas, grid = _grid(len(lines), columns, panel_inches)
    for axes, panels in zip(grid, lines):
        for ax, (title, image, target, saliency, shown) in zip(axes, panels):
            if shown:
                _show(ax, image, target, saliency, title)
        for ax, *panel in itertools.zip_longest(axes, panels):
            if panel[0] is None or not panel[0][-1]:
                ax.set_visible(False)
    return _pixels(fig, canvas)


def sanity_figure(explained: SampleExplanation, results: Sequence[SanityResult], stages: Sequence[str],
                  spec: ImageSpec, title_prefix: str = "", panel_inches: float = 2.2) -> np.ndarray:
    """The randomisation test for the image's best box: one row per method, its map from the trained
    net and then from each stage of the randomised cascade, with the Spearman correlation to the first."""
    image, target = display_spectra(explained.image, spec)[0], explained.targets[0]
    trained = {r.method: r for r in explained.results if r.box == 0}
    randomised = {(r.method, r.stage): r for r in results if r.box == 0 and r.sample_id == explained.sample_id}
    methods = [m for m in trained if any(key[0] == m for key in randomised)]
    fig, canvas, grid = _grid(len(methods), 1 + len(stages), panel_inches)
    label = f"{spec.class_names[target.label]} {target.score:.2f}"
    for axes, method in zip(grid, methods):
        original = trained[method]
        _show(axes[0], image, target, original.saliency if original.ok else None,
              f"{_own_line(title_prefix)}{explained.sample_id}: {label}\n{method}, trained net")
        for ax, stage in zip(axes[1:], stages):
            result = randomised.get((method, stage))
            if result is None:
                ax.set_visible(False)
                continue
            rho = ("failed" if result.error else "blank" if np.isnan(result.spearman)
                   else f"rho {result.spearman:.2f}, in support {result.spearman_support:.2f}")
            _show(ax, image, target, result.saliency, f"{stage}\n{rho}")
    return _pixels(fig, canvas)


def known_cause_figure(explained: SampleExplanation, box: int, spec: ImageSpec, title_prefix: str = "",
                       panel_inches: float = 2.4) -> np.ndarray:
    """One box judged against its known causes, a pair of panels per method: its map over the image
    with each part and other object outlined, and beside it each cause's share of the true effect
    (its score drop over the positive drops' sum) against the share of the map's mass on it."""
    results = [r for r in explained.results if r.box == box and r.ok and r.cause_regions is not None]
    if not results:
        raise ValueError(f"{explained.sample_id}: box {box} has no map with known causes")
    regions, target = results[0].cause_regions, explained.targets[box]
    effects = torch.tensor([results[0].cause_effects[name] for name in regions.names])
    true_share = effects.clamp(min=0) / max(float(effects.clamp(min=0).sum()), 1e-9)
    image = display_spectra(explained.image, spec)[0]
    pairs = 2  # methods per figure row
    fig, canvas, grid = _grid(-(-len(results) // pairs), 2 * pairs, panel_inches)
    colours = [f"C{k % 10}" for k in range(len(regions.names))]
    label, labels = f"{spec.class_names[target.label]} {target.score:.2f}", regions.labels.numpy()
    for k, result in enumerate(results):
        ax, bars = grid[k // pairs, 2 * (k % pairs)], grid[k // pairs, 2 * (k % pairs) + 1]
        ranking = result.value("part_ranking")
        _show(ax, image, target, result.saliency, f"{_own_line(title_prefix) if k == 0 else ''}{explained.sample_id}: "
              f"{label}\n{result.method}, part ranking {ranking:.2f}")
        for c, colour in enumerate(colours):
            if (labels == c).any():
                ax.contour(labels == c, levels=[0.5], colors=[colour], linewidths=1.0)
        mass = regions.mass(result.saliency.detach().cpu())
        at = np.arange(len(regions.names))
        bars.barh(at - 0.2, true_share.numpy(), height=0.4, color=colours, label="true effect")
        bars.barh(at + 0.2, mass.numpy(), height=0.4, color=colours, alpha=0.45, hatch="//", label="map's mass")
        bars.set_yticks(at, [f"{n} {e:+.2f}" for n, e in zip(regions.names, effects.tolist())], fontsize=7)
        bars.invert_yaxis()
        bars.set_xlim(0, 1)
        bars.tick_params(axis="x", labelsize=7)
        bars.set_title("true (solid), map (hatched)", fontsize=8)
    for ax in grid.flat[2 * len(results):]:
        ax.set_visible(False)
    return _pixels(fig, canvas)


def _own_line(prefix: str) -> str:
    """A title prefix (``rgb_mir_early | ``) on a line of its own: beside the scene id and spectrum
    it ran past a panel's width and was cut."""
    return f"{prefix.removesuffix(' | ')}\n" if prefix else ""


def _grid(rows: int, columns: int, panel_inches: float) -> tuple[Figure, FigureCanvasAgg, np.ndarray]:
    fig = Figure(figsize=(panel_inches * columns, (panel_inches + 0.5) * rows))
    return fig, FigureCanvasAgg(fig), fig.subplots(rows, columns, squeeze=False)


def _show(ax, image: np.ndarray, target: Target, saliency: torch.Tensor | None, title: str) -> None:
    """The image with the target's box, and the map over it when there is one."""
    x1, y1, x2, y2 = (float(v) for v in target.box)
    ax.imshow(image)
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=1.5))
    if saliency is not None:
        ax.imshow(saliency.detach().cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _pixels(fig: Figure, canvas: FigureCanvasAgg) -> np.ndarray:
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
