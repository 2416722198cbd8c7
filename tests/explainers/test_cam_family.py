"""The CAM family checked against pytorch-grad-cam (an implementation nobody here wrote) on a trained
EfficientDet: its methods are given a model whose output is the explained detection's own class
logit and, as target layer, a pass-through module carrying the same features at the same level."""
import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM
from torch import nn

from spectral_xai.checkpoint import load_checkpoint
from spectral_xai.detection import DetectionScorer, EffdetDetector, Target
from spectral_xai.explainers import create

REFERENCE = {"gradcam": GradCAM, "hirescam": HiResCAM, "xgradcam": XGradCAM, "gradcam_plusplus": GradCAMPlusPlus,
             "layercam": LayerCAM}
LAYERS = ["class_net.predict", "class_net"]
DETECTIONS = 4


class DetectionLogit(nn.Module):
    """``detector`` as a model of one output, ``target``'s logit; the features entering ``layer`` at
    the target's level pass through ``tap`` on their way."""

    def __init__(self, detector: EffdetDetector, target: Target, layer: str, level: int):
        super().__init__()
        self.detector, self.target, self.layer, self.level = detector, target, layer, level
        self.tap = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        calls = []

        def route(_module, args):
            if isinstance(args[0], (list, tuple)):  # the heads' input: every level at once
                features = list(args[0])
                features[self.level] = self.tap(features[self.level])
                return (features, *args[1:])
            calls.append(None)
            return (self.tap(args[0]), *args[1:]) if len(calls) - 1 == self.level else None

        handle = self.detector.net.get_submodule(self.layer).register_forward_pre_hook(route)
        try:
            return self.detector.logit(self.detector.raw(x), self.target)[None, None]
        finally:
            handle.remove()


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
def test_cam_methods_agree_with_pytorch_grad_cam(detections, name, layer):
    detector, image, targets, levels = detections
    ours = create(name, layer=layer).explain_all(DetectionScorer(detector), image, targets)
    for target, level, saliency in zip(targets, levels, ours):
        model = DetectionLogit(detector, target, layer, level)
        with REFERENCE[name](model=model, target_layers=[model.tap]) as cam:
            reference = cam(input_tensor=image[None], targets=[lambda output: output.sum()])[0]
        a, b = saliency.flatten().numpy(), reference.flatten()
        if a.std() == 0 or b.std() == 0:  # nothing positive to show: both maps must be blank
            assert a.std() == b.std() == 0, (name, layer, target.anchor)
            continue
        correlation = float(np.corrcoef(a, b)[0, 1])
        assert correlation >= 0.99, f"{name} at {layer}, level {level}, anchor {target.anchor}: r = {correlation:.4f}"
