"""A method's curves (deletion and insertion, every curve metric of :func:`~spectral_xai.metrics.registry.curves`):
every box faint, their mean bold."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..results import BoxResult
from ..metrics import CurveResult, registry


def removes(curves: Sequence[CurveResult]) -> bool:
    """Whether the curves remove pixels (deletion: the score falls) rather than put them back."""
    return not curves or curves[0].removes


def curve_plot(path: Path, title: str, results: Sequence[BoxResult]) -> None:
    """The curves of the results that succeeded, one panel per curve metric, written as a PNG."""
    done = [r for r in results if r.ok]
    drawn = registry.curves()
    fig = Figure(figsize=(4 * len(drawn), 3.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(drawn), sharey=True, squeeze=False)[0]
    for ax, metric in zip(axes, drawn):
        name, curves = metric.short, [r.curves[metric.name] for r in done if metric.name in r.curves]
        for curve in curves:
            ax.plot(curve.fractions.numpy(), curve.scores.numpy(), color="tab:blue", alpha=0.15, linewidth=0.8)
        if curves:
            mean = np.mean([c.scores.numpy() for c in curves], axis=0)
            auc = np.mean([c.auc for c in curves])
            ax.plot(curves[0].fractions.numpy(), mean, color="tab:blue", linewidth=2, label=f"mean, AUC {auc:.3f}")
            ax.legend(loc="upper right" if removes(curves) else "lower right", fontsize=8)
        ax.set_title(f"{name} ({len(curves)} boxes)", fontsize=9)
        ax.set_xlabel(f"share of pixels {'removed' if removes(curves) else 'inserted'}")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("score of the target box")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
