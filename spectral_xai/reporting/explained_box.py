"""One dataset sample through the whole path: top detection -> every method -> AUCs -> table rows
and figure. Shared by the training callback and explain.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from ..explainers import DetectionScorer, EffdetDetector, SaliencyMethod, Target
from ..explainers.pipeline import MethodResult, explain_box, top_target
from .figures import display_image, explanation_figure, result_panel
from .tables import box_rows


@dataclass
class ExplainedBox:
    target: Target
    results: list[MethodResult]
    rows: list[list]
    figure: np.ndarray  # RGB uint8


def explain_sample(detector: EffdetDetector, sample: dict, methods: Mapping[str, SaliencyMethod],
                   scorer: DetectionScorer, step: float, min_score: float, class_names: Sequence[str],
                   mean: Sequence[float], std: Sequence[float], first_column: object, device: torch.device | str,
                   title_prefix: str = "", figure_inches: float = 2.6) -> ExplainedBox | None:
    """None when the sample's top detection scores below ``min_score`` (the caller reports it)."""
    image = sample["image"].to(device)
    target = top_target(detector, image, min_score)
    if target is None:
        return None
    results = explain_box(detector, image, target, methods, scorer, step)
    rows = box_rows(first_column, sample["sample_id"], sample["spectrum"], target, class_names, results, step)
    title = f"{title_prefix}{sample['sample_id']} {sample['spectrum']}: {class_names[target.label]} {target.score:.2f}"
    figure = explanation_figure(display_image(image, mean, std), target.box.tolist(), title,
                                [result_panel(r) for r in results], figure_inches)
    return ExplainedBox(target, results, rows, figure)
