"""The boxes on which explanations of the shared trained net are held against baselines, and the
paired measure they are compared by."""
import torch
from scipy.stats import wilcoxon

from spectral_xai.checkpoint import load_checkpoint
from spectral_xai.detection import DetectionScorer, Scoring, Target
from spectral_xai.metrics import insertion_deletion

BOXES, STEP = 24, 0.1
# Boxes clear of the scoring rule's floor (0.05): a box just above it drops below under almost any
# perturbation, so that every map, a random one too, scores 0 on it and it tells nothing.
TARGET_MIN_SCORE = 0.15


def scored_boxes(checkpoint) -> tuple[DetectionScorer, list[tuple[torch.Tensor, Target]]]:
    """The scorer and the best detection of each of the first 24 test, then validation, images
    that have one scoring >= 0.15 (the test split alone has fewer on some training seeds)."""
    module, datamodule = load_checkpoint(checkpoint, num_workers=0)
    datamodule.setup("fit")
    datamodule.setup("test")
    detector = module.use_channels_last().detector()
    boxes = []
    images = (dataset[i]["image"] for split in ("test", "val") for dataset in [datamodule.datasets[split]]
              for i in range(len(dataset)))
    for image in images:
        with torch.no_grad():
            detections = detector(image[None])
        if detections.scores[0, 0] >= TARGET_MIN_SCORE:
            boxes.append((image, Target.from_detections(detections)))
        if len(boxes) == BOXES:
            break
    assert len(boxes) == BOXES, f"only {len(boxes)} test and validation images have a box scoring >= {TARGET_MIN_SCORE}"
    return DetectionScorer(detector, Scoring().build(), batch_size=32), boxes


def gain(scorer: DetectionScorer, image: torch.Tensor, saliency: torch.Tensor, target: Target) -> float:
    """Insertion minus deletion AUC: high when the map puts the detection's evidence first."""
    ins, dele = insertion_deletion(scorer, image, saliency, target, step=STEP)
    return ins.auc - dele.auc


def one_sided_p(better: list[float], than: list[float]) -> float:
    return float(wilcoxon(better, than, alternative="greater").pvalue)
