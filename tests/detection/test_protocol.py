"""Every method, the scoring rules and the metric ask of a detector only what the Detector protocol
declares: each runs on a detector that exposes nothing else and gives the same maps and curves."""
import pytest
import torch

from spectral_xai.detection import DetectionScorer, Detector, MatchedScore
from spectral_xai.explainers import REGISTRY, create
from spectral_xai.metrics import insertion_deletion

from ..helpers.region_detector import region_case

MEMBERS = set(Detector.__annotations__) | {name for name, value in vars(Detector).items()
                                           if callable(value) and not name.startswith("_")}


class ProtocolOnly:
    """A detector with the protocol's members and no other: anything else a method reached for
    would be an AttributeError."""

    def __init__(self, detector):
        self._detector = detector

    def __getattr__(self, name):
        if name not in MEMBERS:
            raise AttributeError(f"{name!r} is not part of the Detector protocol")
        return getattr(self._detector, name)


def test_the_traced_effdet_implements_the_protocol():
    scorer, _, _ = region_case()
    assert isinstance(scorer.detector, Detector) and not isinstance(object(), Detector)
    assert MEMBERS >= {"net", "raw", "passes", "decode", "logit", "box", "locate", "missed_target"}
    with pytest.raises(AttributeError, match="not part of the Detector protocol"):
        ProtocolOnly(scorer.detector).memory_format


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_method_needs_nothing_beyond_the_protocol(name):
    scorer, image, target = region_case()
    settings = {"n_masks": 24} if name == "rise" else {}
    narrow = DetectionScorer(ProtocolOnly(scorer.detector), MatchedScore(), scorer.batch_size)
    wide = DetectionScorer(scorer.detector, MatchedScore(), scorer.batch_size)
    saliency = create(name, **settings)(narrow, image, target)
    assert torch.equal(saliency, create(name, **settings)(wide, image, target))
    insertion, deletion = insertion_deletion(narrow, image, saliency, target, 0.25)
    assert (insertion.auc, deletion.auc) == tuple(c.auc for c in insertion_deletion(wide, image, saliency, target, 0.25))
