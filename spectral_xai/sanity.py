"""The model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

A map that explains a detection must depend on the weights that made it. The net's weights are
randomised in a cascade from the top down (by default each tensor's trained values shuffled, so that
their scale stays; see :func:`randomised_cascade`), each stage adding to the last: the class head's
last conv, the whole class head, the box head and the BiFPN, the backbone (then the whole net is
random). At every stage each method explains the same target (the same box, class and anchor) on
the same image with the randomised net, and the map is compared with the trained net's map by
Spearman rank correlation over pixels: a method whose maps stay the same (correlation near 1)
shows the image, not the detector.

Over all pixels, a map confined to the detection's receptive field (a per-pixel gradient method at
a head layer: the gradient is exactly zero outside the anchor's window, whatever the weights)
correlates through its zeros alone, since every pixel outside the window ties at the bottom
rank in both maps. So the correlation is also given over the pixels where either map is non-zero
(``spearman_support``), where only what the map says inside that window counts.

Under a random net the run's rule re-identifies nothing, so a perturbation method scored by it
gives a blank map by construction, and the test could not tell a method that reads the weights
from one that does not. Perturbation methods are therefore scored here by the ``anchor`` rule (the
target's class probability at its own anchor, as a classifier's logit is in the classic test), on
the trained net and on every randomised one; each row says which rule it used. In SESS's windows
the target is then the anchor whose box best overlaps its moved box.
"""
from __future__ import annotations

import logging
import math
from typing import Sequence


from .detection import AnchorScore, DetectionScorer, Detector, ScoringRule
from .detection.randomisation import CASCADE, RANDOMISATIONS, STAGES, randomised_cascade  # noqa: F401  (the test's stages, here)
from .explaining import Explainer
from .results import SampleExplanation, SanityResult
from .metrics import spearman

log = logging.getLogger(__name__)

def sanity_check(explainer: Explainer, trained: Detector, cascade: Sequence[tuple[str, Detector]],
                 explained: SampleExplanation) -> list[SanityResult]:
    """Every method's maps of ``explained``'s boxes again under each randomised net of ``cascade``,
    compared with the ``trained`` net's maps. Perturbation methods are scored by the ``anchor`` rule
    on both sides, the trained net's maps made again under it: under a random net the run's rule re-identifies nothing,
    and a map blank by construction cannot fail the test. A method that fails is logged and
    reported, the others go on."""
    anchor = AnchorScore()
    image = explained.image.to(next(trained.parameters()).device)
    methods = explainer.methods_for(explained.sample_id, explained.spectrum)  # the seeds the trained maps drew from
    rules, reference = {}, {}
    for name, method in methods.items():
        ran = {r.box: r.saliency for r in explained.results if r.method == name and r.ok}
        if not ran:
            continue
        rules[name] = "anchor" if method.perturbs else explainer.scoring.rule
        if rules[name] == "anchor" and explainer.scoring.rule != "anchor":
            try:
                ran = dict(enumerate(method.explain_all(_scorer(explainer, trained, anchor), image, explained.targets)))
            except Exception as error:  # as below: the others go on
                log.exception("sanity check: %s failed on the trained net under the anchor rule", name)
                ran = {box: error for box in ran}
        reference[name] = ran
    results = []
    for stage, detector in cascade:
        for name, method in methods.items():
            if name not in reference:
                continue
            trained_maps = reference[name]
            scorer = _scorer(explainer, detector, anchor) if rules[name] == "anchor" else explainer.scorer(detector)
            failure = next((m for m in trained_maps.values() if isinstance(m, Exception)), None)
            try:
                if failure is not None:
                    raise failure
                maps = method.explain_all(scorer, image, explained.targets)
            except Exception as error:  # one method's failure must not end the test for the others
                log.exception("sanity check: %s failed at stage %r on %s", name, stage, explained.sample_id)
                results += [SanityResult(explained.sample_id, explained.spectrum, box, name, stage, math.nan, math.nan,
                                         None, rules[name], repr(error)) for box in trained_maps]
                continue
            results += [SanityResult(explained.sample_id, explained.spectrum, box, name, stage,
                                     spearman(trained_maps[box], saliency), spearman(trained_maps[box], saliency, support=True),
                                     saliency, rules[name])
                        for box, saliency in enumerate(maps) if box in trained_maps]
    return results


def _scorer(explainer: Explainer, detector: Detector, rule: ScoringRule) -> DetectionScorer:
    return DetectionScorer(detector, rule, explainer.batch_size, explainer.precision)
