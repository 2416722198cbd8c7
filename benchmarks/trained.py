"""The trained detector a benchmark runs on: ``--checkpoint`` or, by default, the tests' shared net
(from the content-keyed cache of spectral_xai.cached_nets; trained into it once, about a minute). A random net scores every candidate
about 0.01, under the scoring rule's floor: what it costs is not what a real detection costs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from spectral_xai.checkpoint import load_checkpoint  # noqa: E402
from spectral_xai.detection import EffdetDetector, Target  # noqa: E402
from spectral_xai.explaining import explainable_ranks  # noqa: E402
from spectral_xai.lit_modules import EfficientDetModule  # noqa: E402
from spectral_xai.cached_nets import SHARED_RECIPE, trained_net  # noqa: E402


def add_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a trained checkpoint (default: the tests' shared net, from the cache of trained nets)")


def add_trained_at_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trained-at", type=int, default=None,
                        help="without --checkpoint: the shared net's recipe trained at this input size (cached)")


def checkpoint_path(checkpoint: Path | None, trained_at: int | None = None) -> Path:
    """``checkpoint``, else the shared net: trained at its recipe's 128 px, or at ``trained_at`` px
    (the same recipe and data at another input size, cached likewise; a net trained at 512 px has
    detections at the objects' scale there, which the 128-px net run at 512 px has not)."""
    if checkpoint:
        return checkpoint
    return trained_net(args=[*SHARED_RECIPE, "--data.image_size", str(trained_at)]) if trained_at else trained_net()


def validation_images(checkpoint: Path, count: int) -> tuple[EfficientDetModule, list[torch.Tensor]]:
    """The checkpoint's module and the first ``count`` images of its validation split."""
    module, datamodule = load_checkpoint(checkpoint, num_workers=0)
    datamodule.prepare_data()
    datamodule.setup("validate")
    dataset = datamodule.val_dataloader().dataset
    return module.eval(), [dataset[i]["image"] for i in range(min(count, len(dataset)))]


def at_size(module: EfficientDetModule, images: list[torch.Tensor], size: int) -> tuple[EffdetDetector, list[torch.Tensor]]:
    """The module's detector and images at ``size`` px, for timing at the paper's 512 px a net trained
    at 128: the trained weights in a net whose anchors are made for ``size``, each image tiled to
    that size (a multiple of the net's), so that its objects keep the scale the net was trained on
    and a larger image holds more of them, as a real 512-px scene does."""
    if size == module.hparams.image_size:
        return module.detector(), images
    hparams = {k: v for k, v in module.hparams.items() if k not in ("image_size", "pretrained")}
    resized = EfficientDetModule(**hparams, image_size=size).eval()
    weights = {k: v for k, v in module.state_dict().items() if not k.startswith("bench.anchors.")}
    resized.load_state_dict(weights, strict=False)
    trained = module.hparams.image_size
    if size % trained:
        raise SystemExit(f"--image-size {size} must be a multiple of the net's {trained} px")
    return resized.detector(), [image.repeat(1, size // trained, size // trained) for image in images]


def explainable_targets(detector: EffdetDetector, image: torch.Tensor, max_side: float = float("inf")) -> list[Target]:
    """The image's detections that explain.py would explain (with an area), best first, each side
    at most ``max_side``."""
    with torch.no_grad():
        detections = detector(image[None])
    targets = [Target.from_detections(detections, rank=rank) for rank in explainable_ranks(detections)]
    return [t for t in targets if max(float(t.box[2] - t.box[0]), float(t.box[3] - t.box[1])) <= max_side]


def best_image(detector: EffdetDetector, images: list[torch.Tensor], count: int = 1,
               max_side: float = float("inf")) -> tuple[int, list[Target]]:
    """The image whose ``count``-th explainable detection scores highest, with its first ``count``
    detections: a confident box with no area is never taken, as explain.py never explains one, nor
    one with a side over ``max_side`` (a net trained at 128 px run on a tiled 512-px input scores
    whole-image boxes of its coarsest levels at 1.0: artefacts of levels never trained at that scale)."""
    found = [explainable_targets(detector, image, max_side)[:count] for image in images]
    best = max(range(len(images)), key=lambda i: float(found[i][-1].score) if len(found[i]) == count else -1.0)
    if len(found[best]) < count:
        raise SystemExit(f"no image has {count} detection(s) with an area")
    return best, found[best]


def confident_boxes(checkpoint: Path, count: int, min_score: float = 0.3, candidates: int = 64
                    ) -> tuple[EffdetDetector, list[tuple[torch.Tensor, Target]]]:
    """The checkpoint's detector and, for each of the first validation images whose best detection
    scores >= ``min_score`` (up to ``count``), the image and that detection."""
    module, images = validation_images(checkpoint, candidates)
    detector, found = module.detector(), []
    for image in images:
        targets = explainable_targets(detector, image)
        if targets and targets[0].score >= min_score:
            found.append((image, targets[0]))
        if len(found) == count:
            break
    if not found:
        raise SystemExit(f"{checkpoint}: no validation image has a detection scoring >= {min_score}")
    return detector, found
