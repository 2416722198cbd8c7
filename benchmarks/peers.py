"""Our methods against the peers' own implementations, on the same detections of the same trained net, in one run.

    python benchmarks/peers.py [--checkpoint CKPT] [--rounds 3] [--detections 4] [--masks 500]

Writes benchmarks/results/peers.json.

- Grad-CAM, HiResCAM and Score-CAM against pytorch-grad-cam, given a model whose one output is the
  explained detection's class logit (Score-CAM: the logit of its matched score in each masked image)
  and the features at the detection's level as target layer (peer_adapters/grad_cam.py), one
  detection at a time on both sides. pytorch-grad-cam's Score-CAM upsamples with align_corners=True,
  which moves its map by up to half a cell; it runs here with half-pixel upsampling as the Score-CAM
  authors' code (and ours) does, and the same 32 masked images per forward pass as ours.
- RISE (the paper's matched score) and D-RISE against xaitk-saliency's RISEStack and DRISEStack (its
  mask generator, occlusion and scoring), our detector behind its ClassifyImage / DetectImageObjects
  interfaces (32 images per forward pass), the same number of masks, 8 x 8 grid, p 0.1, every
  detection of the image explained in one call on both sides. xaitk's detector interface carries no
  objectness, so its own D-RISE pipeline weighs every detection by 1 where ours weighs it by its
  confidence; the same-masks comparison hands its scoring our confidences (peer_adapters/xaitk.py).

Per method: time ours / theirs, each round timing both, alternately (goal <= 1.0), and how far the maps
agree. Where the same computation can be fed the same inputs, the Pearson correlation of the two maps
(goal >= 0.99): the CAMs directly; RISE and D-RISE by handing xaitk's scoring our masks and the
detections of our masked images. Their full pipelines draw their own masks, so those maps are compared
against the seed-to-seed noise floor: correlation ours vs theirs beside ours (seed 0) vs ours (seed 1).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path
from typing import Hashable, Iterable, Iterator, Sequence

import numpy as np
import torch
from pytorch_grad_cam import GradCAM, HiResCAM, ScoreCAM
from smqtk_classifier.interfaces.classify_image import ClassifyImage
from smqtk_detection.interfaces.detect_image_objects import DetectImageObjects
from smqtk_image_io.bbox import AxisAlignedBoundingBox
from xaitk_saliency.impls.gen_classifier_conf_sal.rise_scoring import RISEScoring
from xaitk_saliency.impls.gen_detector_prop_sal.drise_scoring import DRISEScoring
from xaitk_saliency.impls.gen_image_classifier_blackbox_sal.rise import RISEStack
from xaitk_saliency.impls.gen_object_detector_blackbox_sal.drise import DRISEStack

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, alternated, spread, timed, write_result  # noqa: E402
from trained import REPO, add_checkpoint_argument, best_image, checkpoint_path, validation_images  # noqa: E402

from spectral_xai.detection import DetectionScorer, EffdetDetector, Scoring, Target  # noqa: E402
from spectral_xai.explainers import create  # noqa: E402
from spectral_xai.explainers.rise import rise_masks  # noqa: E402
from peer_adapters.grad_cam import DetectionLogit, HalfPixelUpsampling, MatchedLogit  # noqa: E402
from peer_adapters.xaitk import perturbed_detections, reference_detections  # noqa: E402

CAMS = {"gradcam": GradCAM, "hirescam": HiResCAM, "scorecam": ScoreCAM}
LAYER = "class_net.predict"
GRID, P = 8, 0.1


def correlation(a, b) -> float | None:
    """Pearson's r of two maps; None where a map is blank (constant), for which r is undefined."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return round(float(np.corrcoef(a, b)[0, 1]), 4) if a.std() > 0 and b.std() > 0 else None


def summary(values: list[float | None]) -> str:
    defined = [v for v in values if v is not None]
    blank = f", {len(values) - len(defined)} blank" if len(defined) < len(values) else ""
    return f"{min(defined):.4f} least / {statistics.median(defined):.4f} median{blank}" if defined else "all blank"


def as_batches(images: Iterable[np.ndarray], batch_size: int) -> Iterator[torch.Tensor]:
    batch = []
    for image in images:
        batch.append(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
        if len(batch) == batch_size:
            yield torch.stack(batch)
            batch = []
    if batch:
        yield torch.stack(batch)


class TargetScores(ClassifyImage):
    """Our detector and the paper's matched rule as xaitk's image classifier: one "class" per
    explained detection, its score the detection's matched score in the image."""

    def __init__(self, scorer: DetectionScorer, targets: Sequence[Target]):
        self.scorer, self.targets = scorer, targets

    def get_labels(self) -> Sequence[Hashable]:
        return list(range(len(self.targets)))

    def classify_images(self, img_iter):
        for batch in as_batches(img_iter, self.scorer.batch_size):
            scores = torch.stack([m.scores for m in self.scorer.match_all(batch, self.targets)], dim=1)
            yield from ({k: float(s) for k, s in enumerate(row)} for row in scores)

    def get_config(self) -> dict:
        return {}


class Detections(DetectImageObjects):
    """Our detector as xaitk's object detector: every detection (no score floor, as D-RISE compares
    all) with its class probabilities."""

    def __init__(self, detector: EffdetDetector, batch_size: int):
        self.detector, self.batch_size = detector, batch_size

    def detect_objects(self, img_iter):
        for batch in as_batches(img_iter, self.batch_size):
            with torch.no_grad():
                found = self.detector(batch, 0.0)
            for boxes, probs, labels in zip(found.boxes, found.class_probs, found.labels):
                keep = labels >= 0
                yield [(AxisAlignedBoundingBox(box[:2].tolist(), box[2:].tolist()), dict(enumerate(p.tolist())))
                       for box, p in zip(boxes[keep], probs[keep])]

    def get_config(self) -> dict:
        return {}


def cam_peers(detector: EffdetDetector, image: torch.Tensor, targets: Sequence[Target], rounds: int) -> dict:
    scorer = DetectionScorer(detector)
    with torch.no_grad():
        raw = detector.raw(image[None])
    levels = [detector.locate(raw, t.anchor)[0] for t in targets]
    figures = {}
    for name, reference in CAMS.items():
        ours_method = create(name, layer=LAYER)
        models = [(MatchedLogit if name == "scorecam" else DetectionLogit)(detector, t, LAYER, level)
                  for t, level in zip(targets, levels)]

        def ours():
            return [ours_method(scorer, image, t) for t in targets]

        def theirs():
            maps = []
            for model in models:
                with reference(model=model, target_layers=[model.tap]) as cam:
                    cam.batch_size = scorer.batch_size  # Score-CAM's masked images per forward pass, as ours
                    maps.append(cam(input_tensor=image[None], targets=[lambda output: output.sum()])[0])
            return maps
        figures[name] = compare(name, ours, theirs, rounds, same_inputs=True)
    return figures


def compare(name: str, ours, theirs, rounds: int, same_inputs: bool) -> dict:
    """Both timed each round, alternately; the maps of the last round compared box by box."""
    measured = alternated({"ours": lambda: timed(ours), "theirs": lambda: timed(theirs)}, rounds)
    ours_s, theirs_s = ([s for s, _ in measured[arm]] for arm in ("ours", "theirs"))
    ours_maps, theirs_maps = measured["ours"][-1][1], measured["theirs"][-1][1]
    r = [correlation(a, b) for a, b in zip(ours_maps, theirs_maps)]
    ratio = spread([o / t for o, t in zip(ours_s, theirs_s)], 3)
    return {"ratio": ratio, "ours_seconds": spread(ours_s), "theirs_seconds": spread(theirs_s),
            "correlation_per_box": r, "same_inputs": same_inputs}


def rise_peers(detector: EffdetDetector, image: torch.Tensor, targets: Sequence[Target], masks: int, rounds: int,
               batch_size: int) -> dict:
    picture = image.permute(1, 2, 0).numpy()  # xaitk's images are H x W x C
    figures = {}
    for rule in ("matched", "drise"):
        scorer = DetectionScorer(detector, Scoring(rule).build(), batch_size)
        ours_method = create("rise", n_masks=masks, grid=GRID, p=P)
        if rule == "matched":
            blackbox = TargetScores(scorer, targets)
            stack = RISEStack(n=masks, s=GRID, p1=P, seed=0, debiased=False)

            def theirs():
                maps = stack(picture, blackbox)
                return [maps[k] for k in range(len(targets))]
        else:
            blackbox = Detections(detector, batch_size)
            stack = DRISEStack(n=masks, s=GRID, p1=P, seed=0)
            boxes = np.stack([t.box.numpy() for t in targets])
            probs = np.stack([t.class_probs.numpy() for t in targets])

            def theirs():
                return list(stack(picture, boxes, probs, blackbox, np.ones(len(targets))))
        name = "rise" if rule == "matched" else "drise"
        figures[name] = compare(name, lambda: ours_method.explain_all(scorer, image, targets), theirs, rounds, same_inputs=False)
        ours_maps = ours_method.explain_all(scorer, image, targets)
        other_seed = create("rise", n_masks=masks, grid=GRID, p=P, seed=1).explain_all(scorer, image, targets)
        figures[name]["seed_to_seed_correlation_per_box"] = [correlation(a, b) for a, b in zip(ours_maps, other_seed)]
        figures[name]["same_masks_correlation_per_box"] = same_masks(rule, scorer, blackbox, image, picture, targets,
                                                                     ours_maps, masks, batch_size)
    return figures


def same_masks(rule: str, scorer: DetectionScorer, blackbox, image: torch.Tensor, picture: np.ndarray,
               targets: Sequence[Target], ours_maps: list[torch.Tensor], masks: int, batch_size: int) -> list[float]:
    """xaitk's scoring on our masks and the detections of our masked images, against our maps."""
    chunks = list(rise_masks(masks, GRID, P, tuple(image.shape[-2:]), batch_size, seed=0))
    all_masks = torch.cat(chunks)[:, 0].numpy()
    masked = (picture[None] * all_masks[..., None]).astype(picture.dtype)
    if rule == "matched":
        scores = np.array([[row[k] for k in range(len(targets))] for row in blackbox.classify_images(masked)])
        reference = np.ones(len(targets))
        maps = RISEScoring(p1=0.0)(reference, scores, all_masks)
    else:  # our detections with their confidence as objectness, which xaitk's detector interface cannot carry
        maps = DRISEScoring()(reference_detections(targets), perturbed_detections(scorer.detector, torch.from_numpy(
            masked).permute(0, 3, 1, 2), batch_size), all_masks)
    return [correlation(ours, theirs) for ours, theirs in zip(ours_maps, maps)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--detections", type=int, default=4, help="the image's best N detections")
    parser.add_argument("--masks", type=int, default=500, help="RISE's and D-RISE's masks, both sides")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    torch.nn.UpsamplingBilinear2d = HalfPixelUpsampling  # pytorch-grad-cam's Score-CAM, see above
    checkpoint = checkpoint_path(args.checkpoint)
    module, images = validation_images(checkpoint, 16)
    detector = module.detector()
    best, targets = best_image(detector, images, args.detections)
    image = images[best]
    print(f"{checkpoint.relative_to(REPO) if checkpoint.is_relative_to(REPO) else checkpoint}: validation image {best}, "
          f"{image.shape[-1]} px, detections scoring {', '.join(f'{t.score:.2f}' for t in targets)}; "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds")
    figures = {"image_size": image.shape[-1], "detection_scores": [round(t.score, 4) for t in targets], "masks": args.masks,
               **cam_peers(detector, image, targets, args.rounds),
               **rise_peers(detector, image, targets, args.masks, args.rounds, args.batch_size)}
    peer = {"gradcam": "pytorch-grad-cam", "hirescam": "pytorch-grad-cam", "scorecam": "pytorch-grad-cam",
            "rise": "xaitk-saliency RISEStack", "drise": "xaitk-saliency DRISEStack"}
    print(f"{'method':<10}{'peer':<26}{'time ours/theirs min/med/max':>30}  map correlation per box")
    for name, peer_name in peer.items():
        f = figures[name]
        r = f["ratio"]
        line = f"{name:<10}{peer_name:<26}{r['min']:>14.3f}/{r['median']:.3f}/{r['max']:.3f}  "
        if f["same_inputs"]:
            line += f"same inputs: {summary(f['correlation_per_box'])}"
        else:
            line += (f"same masks: {summary(f['same_masks_correlation_per_box'])}; own masks: ours vs theirs "
                     f"{summary(f['correlation_per_box'])}, ours seed 0 vs 1 {summary(f['seed_to_seed_correlation_per_box'])}")
        print(line)
    write_result("peers", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
