"""Every method against a random saliency map, on a detector trained on the synthetic data."""
import pytest
import torch

from spectral_xai.checkpoint import load_checkpoint
from spectral_xai.detection import DetectionScorer, Scoring, Target
from spectral_xai.explainers import create
from spectral_xai.metrics import insertion_deletion

METHODS = {"gradcam": {}, "gradcam_norelu": {}, "rise": {"n_masks": 120}, "sidu": {}}
IMAGES, STEP, RANDOM_MAPS = 8, 0.1, 2


@pytest.mark.slow
def test_every_method_beats_random_saliency_on_most_boxes(trained_checkpoint):
    module, datamodule = load_checkpoint(trained_checkpoint, num_workers=0)
    datamodule.setup("test")
    detector = module.detector()
    scorer = DetectionScorer(detector, Scoring().build(), batch_size=32)
    generator = torch.Generator().manual_seed(0)
    gains = {name: [] for name in [*METHODS, "random"]}
    explained = 0
    for index in range(len(datamodule.datasets["test"])):
        image = datamodule.datasets["test"][index]["image"]
        with torch.no_grad():
            detections = detector(image[None])
        if detections.scores[0, 0] < 0.05:
            continue
        target = Target.from_detections(detections)
        maps = {name: create(name, **settings)(scorer, image, target) for name, settings in METHODS.items()}
        for name, saliency in maps.items():
            ins, dele = insertion_deletion(scorer, image, saliency, target, step=STEP)
            gains[name].append(ins.auc - dele.auc)
        # The baseline is the mean over a few random maps, so that one lucky map does not decide.
        random_gains = []
        for _ in range(RANDOM_MAPS):
            ins, dele = insertion_deletion(scorer, image, torch.rand(image.shape[-2:], generator=generator), target, step=STEP)
            random_gains.append(ins.auc - dele.auc)
        gains["random"].append(sum(random_gains) / RANDOM_MAPS)
        explained += 1
        if explained == IMAGES:
            break
    assert explained >= 5, f"the trained detector found a box in only {explained} test images"
    means = {name: sum(v) / len(v) for name, v in gains.items()}
    print("mean insertion - deletion AUC:", {k: round(v, 3) for k, v in means.items()})
    for name in METHODS:
        wins = sum(g > r for g, r in zip(gains[name], gains["random"]))
        assert wins > explained / 2, f"{name} beat random saliency on only {wins} of {explained} boxes: {means}"


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["matched", "drise"])
def test_rise_explains_many_detections_from_one_stream_of_masked_images(trained_checkpoint, rule):
    """K detections of one image explained together equal K separate explanations (same masks),
    for the detector's price of one."""
    module, datamodule = load_checkpoint(trained_checkpoint, num_workers=0)
    datamodule.setup("test")
    detector = module.detector()
    image = datamodule.datasets["test"][0]["image"]
    with torch.no_grad():
        detections = detector(image[None])
    targets = [Target.from_detections(detections, rank=k) for k in range(8)]
    rise = create("rise", n_masks=64)
    shared = DetectionScorer(detector, Scoring(rule=rule, min_score=0.0).build(), batch_size=32)
    together = rise.explain_all(shared, image, targets)
    assert shared.forward_passes == 64
    for target, joint in zip(targets, together):
        alone = rise(DetectionScorer(detector, Scoring(rule=rule, min_score=0.0).build(), batch_size=32), image, target)
        assert torch.allclose(joint, alone, atol=1e-5), (rule, target.anchor)
    assert len({round(float(m.sum()), 3) for m in together}) > 1, "the targets' maps should differ"
