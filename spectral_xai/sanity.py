"""The model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

A map that explains a detection must depend on the weights that made it. The net's weights are
re-initialised in a cascade from the top down, each stage adding to the last: the class head's
last conv, the whole class head, the box head and the BiFPN, the backbone (then the whole net is
random). At every stage each method explains the same target (the same box, class and anchor) on
the same image with the randomised net, and the map is compared with the trained net's map by
Spearman rank correlation over pixels: a method whose maps stay the same (correlation near 1)
shows the image, not the detector.

Over all pixels, a map confined to the detection's receptive field (a per-pixel gradient method at
a head layer: the gradient is exactly zero outside the anchor's window, whatever the weights)
correlates through its zeros alone, since every pixel outside the window ties at the bottom
rank in both maps. So the correlation is also given over the pixels where either map is non-zero
(``spearman_support``), where only what the map says inside that window counts. Under a random net a perturbation method usually finds nothing
that re-identifies the target and so gives a blank map, whose correlation is undefined (NaN,
counted as blank); that, too, says the map depended on the weights.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from scipy.stats import spearmanr

from .detection import EffdetDetector
from .evaluation import Explainer, SampleExplanation

log = logging.getLogger(__name__)

#: (stage, the modules of effdet's EfficientDet re-initialised at that stage), cumulative, top down.
CASCADE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("class predict conv", ("class_net.predict",)),
    ("class head", ("class_net",)),
    ("box head + BiFPN", ("box_net", "fpn")),
    ("backbone (all random)", ("backbone",)),
)
STAGES = tuple(stage for stage, _ in CASCADE)


@dataclass
class SanityResult:
    sample_id: str
    spectrum: str
    box: int  # the box's rank among its image's explained boxes
    method: str
    stage: str
    spearman: float  # over all pixels; NaN where either map is blank or the method failed
    spearman_support: float  # over the pixels where either map is non-zero
    saliency: torch.Tensor | None  # the randomised net's map [H, W]; None where the method failed
    error: str | None = None

    def cpu(self) -> "SanityResult":
        return replace(self, saliency=None if self.saliency is None else self.saliency.cpu())


def randomised_cascade(detector: EffdetDetector, seed: int = 0) -> list[tuple[str, EffdetDetector]]:
    """A copy of ``detector`` per stage of :data:`CASCADE`, each with its stage's modules and all
    stages above re-initialised (PyTorch's default initialisation, running statistics reset), seeded."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        random, stages = copy.deepcopy(detector), []
        for stage, modules in CASCADE:
            for name in modules:
                for module in random.net.get_submodule(name).modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
            stages.append((stage, copy.deepcopy(random).eval()))
        return stages
    finally:
        torch.random.set_rng_state(generator_state)


def spearman(a: torch.Tensor, b: torch.Tensor, support: bool = False) -> float:
    """Spearman rank correlation of two maps (ties share their mean rank) over their pixels, or with
    ``support`` over the pixels where either is non-zero; NaN when either is constant there."""
    x, y = a.detach().flatten().cpu().double().numpy(), b.detach().flatten().cpu().double().numpy()
    if support:
        inside = (x != 0) | (y != 0)
        x, y = x[inside], y[inside]
    if len(x) < 3 or x.min() == x.max() or y.min() == y.max():
        return math.nan
    return float(spearmanr(x, y).statistic)


def sanity_check(explainer: Explainer, cascade: Sequence[tuple[str, EffdetDetector]],
                 explained: SampleExplanation) -> list[SanityResult]:
    """Every method's maps of ``explained``'s boxes again under each randomised net of ``cascade``,
    compared with the trained net's maps. A method that fails is logged and reported, the others go on."""
    results = []
    for stage, detector in cascade:
        scorer = explainer.scorer(detector)
        image = explained.image.to(next(detector.parameters()).device)
        for name, method in explainer.methods.items():
            trained = {r.box: r.saliency for r in explained.results if r.method == name and r.ok}
            if not trained:
                continue
            try:
                maps = method.explain_all(scorer, image, explained.targets)
            except Exception as error:  # one method's failure must not end the test for the others
                log.exception("sanity check: %s failed at stage %r on %s", name, stage, explained.sample_id)
                results += [SanityResult(explained.sample_id, explained.spectrum, box, name, stage, math.nan, math.nan,
                                         None, repr(error)) for box in trained]
                continue
            results += [SanityResult(explained.sample_id, explained.spectrum, box, name, stage,
                                     spearman(trained[box], saliency), spearman(trained[box], saliency, support=True),
                                     saliency)
                        for box, saliency in enumerate(maps) if box in trained]
    return results
