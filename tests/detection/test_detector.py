import copy

import pytest
import torch
from effdet import DetBenchPredict

from spectral_xai.detection import Target
from spectral_xai.data_modules.layout import CLASS_NAMES
from spectral_xai.lit_modules import EfficientDetModule

from ..helpers.region_detector import region_detector


@pytest.fixture(scope="module", params=[3, 6], ids=["3ch", "6ch"])
def module(request):
    torch.manual_seed(0)
    return EfficientDetModule(CLASS_NAMES, image_size=128, in_chans=request.param).eval()


def effdet_predict(module, images):
    """effdet's own inference, as its evaluation runs it: boxes clipped to the input before NMS."""
    size = module.hparams.image_size
    info = {"img_scale": torch.ones(len(images)), "img_size": torch.tensor([[size, size]] * len(images), dtype=torch.float32)}
    return DetBenchPredict(module.net).eval()(images, img_info=info)


def test_retraced_detections_equal_effdet_output(module):
    detector = module.detector()
    images = torch.randn(3, module.hparams.in_chans, 128, 128)
    with torch.no_grad():
        reference = effdet_predict(module, images)
        traced = detector(images)
    assert torch.equal(traced.boxes, reference[..., :4])
    assert torch.equal(traced.scores, reference[..., 4])
    assert torch.equal(traced.labels, reference[..., 5].long() - 1)
    assert bool((traced.anchors[traced.labels >= 0] >= 0).all())


def _by_key(detections, image: int, rows, num_classes: int) -> dict:
    picked = {f: getattr(detections, f)[image][rows] for f in ("boxes", "scores", "labels", "anchors", "class_probs")}
    order = torch.argsort(picked["anchors"] * num_classes + picked["labels"])
    return {f: value[order] for f, value in picked.items()}


def test_score_floor_keeps_exactly_effdets_detections_above_it(module):
    detector = module.detector()
    images = torch.randn(2, module.hparams.in_chans, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = detector.raw(images)
        full = detector.decode(raw)
        # An untrained net scores everything near 0.01: a floor inside that range still splits it.
        floor = float(full.scores[:, 30].max())
        floored = detector.decode(raw, min_score=floor)
    for image in range(2):
        above = full.scores[image] >= floor
        n = int(above.sum())
        assert 0 < n < int((full.labels[image] >= 0).sum())
        assert (floored.labels[image, n:] == -1).all()
        # Untrained scores tie exactly; NMS orders tied boxes of different classes arbitrarily, so the
        # detections are compared as a set, keyed by (anchor, class), which is unique.
        got = _by_key(floored, image, slice(0, n), detector.num_classes)
        want = _by_key(full, image, above, detector.num_classes)
        for field in got:
            assert torch.equal(got[field], want[field]), field


def test_traced_logit_is_the_reported_score_and_differentiable(module):
    detector = module.detector()
    images = torch.randn(2, module.hparams.in_chans, 128, 128, requires_grad=True)
    raw = detector.raw(images)
    with torch.no_grad():
        detections = detector.decode(raw)
    for image, rank in [(0, 0), (1, 0), (1, 7), (0, 42)]:
        target = Target.from_detections(detections, image, rank)
        logit = detector.logit(raw, target, image)
        assert torch.sigmoid(logit).item() == pytest.approx(target.score, abs=1e-6)
        assert target.class_probs[target.label].item() == pytest.approx(target.score, abs=1e-6)
    (gradient,) = torch.autograd.grad(detector.logit(raw, Target.from_detections(detections, 1, 0), 1), images)
    assert gradient[0].abs().sum() == 0 and gradient[1].abs().sum() > 0


def test_anchor_beyond_the_detector_is_refused(module):
    detector = module.detector()
    with torch.no_grad():
        raw = detector.raw(torch.zeros(1, module.hparams.in_chans, 128, 128))
    with pytest.raises(IndexError, match="beyond"):
        detector.locate(raw, 10**7)


def test_compiled_passes_give_the_eager_passes_outputs_at_any_batch_size():
    """``compile_passes`` changes how the perturbation passes run, not what they find: on the region
    detector the compiled net's outputs equal eager's (1e-5) at the first batch size and at a
    smaller one, which is padded to the first so that the net compiles once (one graph)."""
    from torch._dynamo.utils import counters
    detector = region_detector()
    eager = [detector.passes(images) for images in batches()]
    detector.compile_passes()
    graphs = counters["stats"]["unique_graphs"]
    compiled = [detector.passes(images) for images in batches()]
    assert detector.compiling and detector.compile_seconds > 0
    assert counters["stats"]["unique_graphs"] - graphs == 1 and detector.compiled_batch == 16
    for ours, theirs in zip(compiled, eager):
        for a, b in zip([*ours[0], *ours[1]], [*theirs[0], *theirs[1]]):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
    # A deep copy with other weights (the sanity check's randomised nets) runs its own weights.
    changed = copy.deepcopy(detector)
    changed.net.tiles.mul_(0.5)
    images = next(batches())
    assert torch.allclose(changed.passes(images)[0][0], changed.raw(images)[0][0], atol=1e-5)
    assert not torch.allclose(changed.passes(images)[0][0], detector.passes(images)[0][0], atol=1e-3)


def test_a_net_that_cannot_be_compiled_is_run_eagerly_with_one_warning(caplog, monkeypatch):
    """A compiler failure is stood in for by a compiled net that raises as a missing C compiler makes
    inductor raise (one cannot be taken off this machine for a test)."""
    detector = region_detector().compile_passes()

    def broken(images):
        raise RuntimeError("InductorError: no working C compiler found")

    monkeypatch.setattr(detector, "_compiled", (id(detector.net), broken))
    images = next(batches())
    with caplog.at_level("WARNING"):
        first, second = detector.passes(images), detector.passes(images)
    assert [r.message for r in caplog.records].count(
        "torch.compile failed (RuntimeError: InductorError: no working C compiler found); the perturbation passes run eagerly") == 1
    assert torch.equal(first[0][0], detector.raw(images)[0][0]) and not detector.compiling


def batches():
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(n, 3, 64, 64, generator=generator) for n in (16, 16, 5, 16))
