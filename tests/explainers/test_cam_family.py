"""The CAM family checked against pytorch-grad-cam (an implementation nobody here wrote) on a trained
EfficientDet: its methods are given a model whose output is the explained detection's own class
logit (for Score-CAM: the logit of its matched score in each masked image) and, as target layer, a
pass-through module carrying the same features at the same level."""
import numpy as np
import pytest
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM

from spectral_xai.checkpoint import load_checkpoint
from spectral_xai.detection import DetectionScorer, Target
from spectral_xai.explainers import create
from spectral_xai.explainers.cam_family import EigenCAM as OursEigenCAM

from benchmarks.peer_adapters.grad_cam import DetectionLogit, HalfPixelUpsampling, MatchedLogit
from ..helpers.margins import reach

REFERENCE = {"gradcam": GradCAM, "hirescam": HiResCAM, "xgradcam": XGradCAM, "gradcam_plusplus": GradCAMPlusPlus,
             "layercam": LayerCAM, "scorecam": ScoreCAM}
LAYERS = ["class_net.predict", "class_net"]
DETECTIONS = 4


@pytest.fixture(scope="module")
def detections(trained_checkpoint):
    module, datamodule = load_checkpoint(trained_checkpoint, num_workers=0)
    datamodule.setup("test")
    detector = module.detector()
    image = datamodule.datasets["test"][1]["image"]
    with torch.no_grad():
        found = detector(image[None])
        raw = detector.raw(image[None])
    targets = [Target.from_detections(found, rank=k) for k in range(DETECTIONS)]
    return detector, image, targets, [detector.locate(raw, t.anchor)[0] for t in targets]


@pytest.mark.slow
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_cam_methods_agree_with_pytorch_grad_cam(detections, name, layer, monkeypatch, record_property):
    if name == "scorecam":
        monkeypatch.setattr(torch.nn, "UpsamplingBilinear2d", HalfPixelUpsampling)
    detector, image, targets, levels = detections
    ours = create(name, layer=layer).explain_all(DetectionScorer(detector), image, targets)
    correlations = []
    for target, level, saliency in zip(targets, levels, ours):
        model = (MatchedLogit if name == "scorecam" else DetectionLogit)(detector, target, layer, level)
        with REFERENCE[name](model=model, target_layers=[model.tap]) as cam:
            reference = cam(input_tensor=image[None], targets=[lambda output: output.sum()])[0]
        a, b = saliency.flatten().numpy(), reference.flatten()
        if a.std() == 0 or b.std() == 0:  # nothing positive to show: both maps must be blank
            assert a.std() == b.std() == 0, (name, layer, target.anchor)
            continue
        correlations.append(float(np.corrcoef(a, b)[0, 1]))
    if correlations:  # every map blank on both sides leaves nothing to correlate
        reach(record_property, f"{name} at {layer} vs pytorch-grad-cam: lowest Pearson r of {DETECTIONS} boxes",
              min(correlations), ">=", 0.99)


@pytest.mark.slow
@pytest.mark.parametrize("layer", LAYERS)
def test_eigencam_is_pytorch_grad_cams_projection_up_to_its_arbitrary_sign(detections, layer):
    """pytorch-grad-cam keeps whichever sign its SVD returns; ours orients the component by the
    detection's evidence. So its map must be ours or the ReLU of our projection's negative (ReLU
    before upsampling in both, as pytorch-grad-cam does)."""
    detector, image, targets, levels = detections
    scorer = DetectionScorer(detector)
    ours = create("eigencam", layer=layer).explain_all(scorer, image, targets)
    flipped = OppositeEigenCAM(layer=layer).explain_all(scorer, image, targets)
    for target, level, *sides in zip(targets, levels, ours, flipped):
        model = DetectionLogit(detector, target, layer, level)
        with EigenCAM(model=model, target_layers=[model.tap]) as cam:
            reference = cam(input_tensor=image[None], targets=[lambda output: output.sum()])[0].flatten()
        if reference.std() == 0:  # a 1 x 1 level: nothing to project
            continue
        best = max(float(np.corrcoef(side.flatten().numpy(), reference)[0, 1]) for side in sides if side.std() > 0)
        assert best >= 0.99, f"eigencam at {layer}, level {level}, anchor {target.anchor}: r = {best:.4f}"


class OppositeEigenCAM(OursEigenCAM):
    """Our EigenCAM with the other sign of the principal component."""

    def combine(self, features: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return -super().combine(features, gradient)
