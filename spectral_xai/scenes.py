"""Which scenes a run explains (one seeded choice shared by every net and spectrum), and the loop
that explains them."""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from tqdm import tqdm

from .detection import Detector
from .explaining import Explainer
from .results import SampleExplanation

log = logging.getLogger(__name__)


def choose_indices(available: int, count: int, seed: int) -> list[int]:
    """A seeded, sorted choice of ``count`` of ``available`` indices (all of them if fewer)."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(available, min(count, available), replace=False).tolist())


def choose_scenes(pools: Sequence[Sequence[str]], count: int, seed: int) -> list[str]:
    """A seeded, sorted choice of ``count`` sample ids for several nets at once, so that every net
    and spectrum explains the same scenes: drawn from the ids every pool holds, then, if those are
    too few, from the ids some pools hold (each net explains the chosen ids it has)."""
    common = sorted(set.intersection(*map(set, pools))) if pools else []
    chosen = [common[i] for i in choose_indices(len(common), count, seed)]
    if len(chosen) < count:
        rest = sorted(set().union(*map(set, pools)) - set(common))
        chosen += [rest[i] for i in choose_indices(len(rest), count - len(chosen), seed)]
    return sorted(chosen)


def explain_scenes(explainer: Explainer, detector: Detector, dataset: Any, scenes: Sequence[str],
                   device: torch.device | str, where: str, counts: Counter | None = None,
                   time_budget_s: float | None = None, progress: bool = False
                   ) -> Iterator[tuple[Mapping, SampleExplanation]]:
    """Each of ``scenes`` that ``dataset`` holds, explained in id order, with its sample: the one
    scene loop of the training callback and explain.py. A scene with nothing to explain is warned
    of, counted in ``counts`` as ``no_detection`` and still yielded (its annotated objects say how
    the net did); once ``time_budget_s`` has passed, the rest are counted as ``skipped_for_time``."""
    counts = Counter() if counts is None else counts
    start = time.perf_counter()
    for index in tqdm(dataset.indices_of(scenes), unit="image", disable=not progress, desc=where):
        if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
            counts["skipped_for_time"] += 1
            continue
        sample = dataset[index]
        explained = explainer.explain(detector, sample, device)
        if not explained.targets:
            counts["no_detection"] += 1
            log.warning("%s: nothing to explain in image %s (%s): no target of kinds %s (detections scoring >= %.2f)",
                        where, sample["sample_id"], sample["spectrum"], ", ".join(explainer.settings.targets),
                        explainer.target_min_score)
        yield sample, explained
