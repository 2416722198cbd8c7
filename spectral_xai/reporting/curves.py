"""Insertion and deletion curves per method: every box faint, their mean bold."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..explained import BoxResult


def curve_plot(path: Path, title: str, results: Sequence[BoxResult]) -> None:
    """Deletion and insertion curves of the results that succeeded, written as a PNG."""
    done = [r for r in results if r.ok]
    fig = Figure(figsize=(8, 3.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, name in zip(axes, ("deletion", "insertion")):
        curves = [getattr(r, name) for r in done]
        for curve in curves:
            ax.plot(curve.fractions.numpy(), curve.scores.numpy(), color="tab:blue", alpha=0.15, linewidth=0.8)
        if curves:
            mean = np.mean([c.scores.numpy() for c in curves], axis=0)
            auc = np.mean([c.auc for c in curves])
            ax.plot(curves[0].fractions.numpy(), mean, color="tab:blue", linewidth=2, label=f"mean, AUC {auc:.3f}")
            ax.legend(loc="upper right" if name == "deletion" else "lower right", fontsize=8)
        ax.set_title(f"{name} ({len(curves)} boxes)", fontsize=9)
        ax.set_xlabel(f"share of pixels {'removed' if name == 'deletion' else 'inserted'}")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("score of the target box")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
