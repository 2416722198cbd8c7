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
DETECTIONS, IMAGES = 4, 3


@pytest.fixture(scope="module")
def detections(trained_checkpoint):
    """The top ``DETECTIONS`` detections of each of the first ``IMAGES`` test images, as
    (image, target, pyramid level): more boxes than a test compares, so that one whose maps are
    blank on both sides (Score-CAM at a box whose features are all negative) can be passed over."""
    module, datamodule = load_checkpoint(trained_checkpoint, num_workers=0)
    datamodule.setup("test")
    detector = module.detector()
    boxes = []
    for index in range(1, 1 + IMAGES):
        image = datamodule.datasets["test"][index]["image"]
        with torch.no_grad():
            found = detector(image[None])
            raw = detector.raw(image[None])
        for rank in range(DETECTIONS):
            target = Target.from_detections(found, rank=rank)
            boxes.append((image, target, detector.locate(raw, target.anchor)[0]))
    return detector, boxes


@pytest.mark.slow
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_cam_methods_agree_with_pytorch_grad_cam(detections, name, layer, monkeypatch, record_property):
    """Compared on the first ``DETECTIONS`` boxes whose maps are not blank; a box blank on one side
    only fails, and too few boxes with anything to show fail too (Score-CAM on seed 4's shared net is
    blank on every box of the first image)."""
    if name == "scorecam":
        monkeypatch.setattr(torch.nn, "UpsamplingBilinear2d", HalfPixelUpsampling)
    detector, boxes = detections
    scorer, method = DetectionScorer(detector), create(name, layer=layer)
    correlations = []
    for image, target, level in boxes:
        saliency = method(scorer, image, target)
        model = (MatchedLogit if name == "scorecam" else DetectionLogit)(detector, target, layer, level)
        with REFERENCE[name](model=model, target_layers=[model.tap]) as cam:
            reference = cam(input_tensor=image[None], targets=[lambda output: output.sum()])[0]
        a, b = saliency.flatten().numpy(), reference.flatten()
        # Nothing to show: ours is blank where no masked image re-identifies the box; pytorch-grad-cam
        # then takes a softmax of logits that are all -inf and draws NaN.
        if a.std() == 0 or not b.std() > 0:
            assert a.std() == 0 and (b.std() == 0 or np.isnan(b).all()), (name, layer, target.anchor)
            continue
        correlations.append(float(np.corrcoef(a, b)[0, 1]))
        if len(correlations) == DETECTIONS:
            break
    assert len(correlations) == DETECTIONS, f"{name} at {layer}: only {len(correlations)} of {len(boxes)} boxes have a map"
    reach(record_property, f"{name} at {layer} vs pytorch-grad-cam: lowest Pearson r of {DETECTIONS} boxes",
          min(correlations), ">=", 0.99)


@pytest.mark.slow
@pytest.mark.parametrize("layer", LAYERS)
def test_eigencam_is_pytorch_grad_cams_projection_up_to_its_arbitrary_sign(detections, layer):
    """pytorch-grad-cam keeps whichever sign its SVD returns; ours orients the component by the
    detection's evidence. So its map must be ours or the ReLU of our projection's negative (ReLU
    before upsampling in both, as pytorch-grad-cam does)."""
    detector, boxes = detections
    image, targets, levels = boxes[0][0], [box[1] for box in boxes[:DETECTIONS]], [box[2] for box in boxes[:DETECTIONS]]
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
