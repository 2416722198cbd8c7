"""explainer_cost.py's sections ``cost``, ``floor`` and ``shared``: what each method costs against the
model evaluations it cannot avoid, what the score floor saves, and K boxes explained together."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import alternated, spread, timed  # noqa: E402
from trained import at_size, best_image, validation_images  # noqa: E402

from spectral_xai.detection import DetectionScorer, EffdetDetector, Scoring, Target  # noqa: E402
from spectral_xai.explain_settings import ExplainSettings  # noqa: E402
from spectral_xai.explaining import Explainer  # noqa: E402
from spectral_xai.explainers import REGISTRY, SaliencyMethod, create  # noqa: E402
from spectral_xai.explainers.baselines import REFERENCES  # noqa: E402
from spectral_xai.explainers.features import features_for_level, tap_inputs  # noqa: E402
from spectral_xai.explainers.sess import SESS  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402


class RecordingScorer(DetectionScorer):
    """A scorer that keeps every batch of images it runs, so that a baseline can run exactly those."""

    def __init__(self, scorer: DetectionScorer):
        super().__init__(scorer.detector, scorer.rule, scorer.batch_size, scorer.precision)
        self.chunks: list[torch.Tensor] = []

    def detect(self, images: torch.Tensor):
        self.chunks.append(images.clone())
        return super().detect(images)


@dataclass
class Work:
    """The model evaluations one explanation cannot avoid."""
    chunks: list[torch.Tensor]  # the images it ran through the detector, as batched
    feature_passes: int  # forward passes of the unaltered image or window to read feature maps
    gradient_passes: int  # forward + backward passes
    layer: str | None = None  # where those backward passes stop (the input when None)

    def __str__(self) -> str:
        parts = [f"{sum(map(len, self.chunks))} detections" if self.chunks else "",
                 f"{self.feature_passes} feature pass" if self.feature_passes else "",
                 f"{self.gradient_passes} fwd+bwd" if self.gradient_passes else ""]
        return " + ".join(p for p in parts if p)


def seconds(fn) -> float:
    return timed(fn)[0]


def unavoidable_work(method: SaliencyMethod, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> Work:
    """Recorded on one call: the detector's batches; a method that reads feature maps and perturbs
    (SIDU, Score-CAM) adds one forward pass; a gradient method one forward + backward; SESS adds its
    base method's share on every window it explains."""
    recorder = RecordingScorer(scorer)
    if isinstance(method, SESS):
        windows, explain_batch = [], method.base.explain_batch
        method.base.explain_batch = lambda scorer_, images, *a: windows.append(len(images)) or explain_batch(scorer_, images, *a)
        method(recorder, image, target)
        del method.base.explain_batch
        base = unavoidable_work(method.base, scorer, image, target)
        explained = sum(windows)
        return Work(recorder.chunks, explained * base.feature_passes, explained * base.gradient_passes, base.layer)
    method(recorder, image, target)
    if not recorder.chunks:
        return Work([], 0, 1, getattr(method, "layer", None))
    return Work(recorder.chunks, 1 if hasattr(method, "layer") else 0, 0)


def baseline_seconds(detector: EffdetDetector, work: Work, image: torch.Tensor, target: Target, min_score: float) -> float:
    def run():
        with torch.no_grad():
            for chunk in work.chunks:
                detector.decode(detector.passes(chunk), min_score)
            for _ in range(work.feature_passes):
                detector.raw(image[None])
        for _ in range(work.gradient_passes):
            gradient_pass(detector, image, target, work.layer)
    return seconds(run)


def gradient_pass(detector: EffdetDetector, image: torch.Tensor, target: Target, layer: str | None) -> None:
    """A forward pass recording the graph and the target logit's gradient with respect to the features
    entering ``layer`` at the target's level (the input when None): what every gradient map needs."""
    x = image[None].clone().requires_grad_(True)
    if layer is None:
        torch.autograd.grad(detector.logit(detector.raw(x), target), x)
        return
    with tap_inputs(detector.net, layer) as calls:
        raw = detector.raw(x)
    features = features_for_level(calls, detector.locate(raw, target.anchor)[0], layer)
    torch.autograd.grad(detector.logit(raw, target), features)


def pick_image(checkpoint: Path, size: int | None, candidates: int) -> tuple[EffdetDetector, torch.Tensor, Target, bool]:
    """The image with the most confident detection explain.py would explain, preferring one at the
    scale the net was trained on; the flag says whether it is. A 128-px net run at 512 px has no
    such detection: its coarsest levels, 1 x 1 and 2 x 2 cells in training, see real context at
    512 px for the first time and score whole-image boxes at 1.0, which fill the top 100. Seconds
    per box stand on such a box (they do not depend on the weights); maps and AUCs do not."""
    module, images = validation_images(checkpoint, candidates)
    trained = module.hparams.image_size
    detector, images = at_size(module, images, size or trained)
    try:
        best, (target,) = best_image(detector, images, max_side=trained)
        return detector, images[best], target, True
    except SystemExit:
        best, (target,) = best_image(detector, images)
        print(f"every detection at {size} px is an artefact of levels never trained at that scale (the best: box "
              f"{[round(float(v)) for v in target.box]}, score {target.score:.2f}): seconds hold, maps and AUCs do not")
        return detector, images[best], target, False


def registered() -> list[str]:
    """Every registered method but the baselines, which run no model and have nothing to time."""
    return [name for name in sorted(REGISTRY) if name not in REFERENCES]


def methods_under_test(args) -> dict[str, SaliencyMethod]:
    settings = {"rise": {"n_masks": args.rise_masks},
                "sess(rise)": {"base": "rise", "base_settings": {"n_masks": args.sess_rise_masks}}}
    names = [*registered(), "sess(rise)"] if not args.methods else args.methods.split(",")
    return {name: create(name.split("(")[0], **settings.get(name, {})) for name in names}


def method_costs(args, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> dict:
    detector, floor = scorer.detector, scorer.rule.min_score
    saliency = torch.rand(image.shape[-2:], generator=torch.Generator().manual_seed(0))
    methods = methods_under_test(args)
    runs = {name: (lambda m=method: m(scorer, image, target)) for name, method in methods.items()}
    runs["insertion+deletion"] = lambda: insertion_deletion(scorer, image, saliency, target, step=args.step)
    work = {name: unavoidable_work(method, scorer, image, target) for name, method in methods.items()}
    recorder = RecordingScorer(scorer)
    insertion_deletion(recorder, image, saliency, target, step=args.step)
    work["insertion+deletion"] = Work(recorder.chunks, 0, 0)
    measured = {name: alternated({"baseline": lambda: baseline_seconds(detector, work[name], image, target, floor),
                                  "method": lambda: seconds(run)}, args.rounds) for name, run in runs.items()}
    print(f"{'method':<20}{'ratio min/med/max':>20}{'goal':>6}{'method s':>10}  model evaluations")
    figures = {}
    for name, arms in measured.items():
        base, spent = arms["baseline"], arms["method"]
        ratio = spread([s / b for s, b in zip(spent, base)], 3)
        goal = 1.5 if work[name].gradient_passes else 1.15
        figures[name] = {"ratio": ratio, "goal": goal, "seconds": spread(spent), "baseline_seconds": spread(base),
                         "work": str(work[name])}
        print(f"{name:<20}{ratio['min']:>8.3f}/{ratio['median']:.3f}/{ratio['max']:.3f}{goal:>6.2f}"
              f"{figures[name]['seconds']['median']:>10.3f}  {work[name]}")
    return figures


def floor_saving(args, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> dict:
    """RISE's masked images and the metric's, decoded at the floor and without it, alternated rounds."""
    recorder = RecordingScorer(scorer)
    create("rise", n_masks=args.rise_masks)(recorder, image, target)
    insertion_deletion(recorder, image, torch.rand(image.shape[-2:]), target, step=args.step)
    images = sum(map(len, recorder.chunks))
    floor = scorer.rule.min_score

    def decode(min_score: float) -> float:
        with torch.no_grad():
            return seconds(lambda: [scorer.detector(chunk, min_score) for chunk in recorder.chunks]) / images
    measured = alternated({"with": lambda: decode(floor), "without": lambda: decode(0.0)}, args.rounds)
    with_floor, without = measured["with"], measured["without"]
    ratio = spread([w / f for w, f in zip(without, with_floor)], 3)
    print(f"perturbed images ({images}: RISE's and the metric's) at score >= {floor}: "
          f"{spread(with_floor)['median'] * 1000:.1f} ms/image, without the floor "
          f"{spread(without)['median'] * 1000:.1f} ms/image; ratio {ratio['min']:.2f} / {ratio['median']:.2f} / {ratio['max']:.2f}")
    return {"images": images, "ms_per_image_with_floor": spread([1000 * s for s in with_floor], 2),
            "ms_per_image_without_floor": spread([1000 * s for s in without], 2), "without_over_with": ratio}


def shared_perturbations(args, detector: EffdetDetector, image: torch.Tensor) -> dict:
    """K detections from one stream of masked images against one detection, for both rules."""
    targets = Explainer(ExplainSettings(["rise"], target_min_score=0.0, boxes=args.targets)).targets(detector, image)[0]
    if len(targets) < args.targets:
        raise SystemExit(f"the image has only {len(targets)} detections with an area; K = {args.targets} asked")
    threshold = targets[-1].score
    print(f"shared perturbations: the {len(targets)} best detections (score >= {threshold:.4f}), RISE {args.rise_masks} masks")
    figures = {}
    # The matched rule's floor at the K-th score, so that every target can be re-identified.
    for rule in (Scoring("matched", min_score=min(0.05, threshold)), Scoring("drise")):
        rise = create("rise", n_masks=args.rise_masks)
        scorer = DetectionScorer(detector, rule.build(), args.batch_size)
        measured = alternated({"alone": lambda: timed(lambda: rise.explain_all(scorer, image, targets[:1])),
                               "joint": lambda: timed(lambda: rise.explain_all(scorer, image, targets))}, args.rounds)
        alone_seconds, joint_seconds = ([s for s, _ in measured[arm]] for arm in ("alone", "joint"))
        one, many = measured["alone"][-1][1], measured["joint"][-1][1]
        last = rise(scorer, image, targets[-1])
        differences = [float((many[0] - one[0]).abs().max()), float((many[-1] - last).abs().max())]
        ratio = spread([j / a for j, a in zip(joint_seconds, alone_seconds)], 3)
        figures[rule.rule] = {"k": len(targets), "alone_seconds": spread(alone_seconds), "joint_seconds": spread(joint_seconds),
                              "ratio": ratio, "goal": 1.25, "max_difference_best_kth": differences}
        print(f"{rule.rule:<10} K=1 {spread(alone_seconds)['median']:.1f} s, K={len(targets)} "
              f"{spread(joint_seconds)['median']:.1f} s, ratio {ratio['min']:.3f} / {ratio['median']:.3f} / "
              f"{ratio['max']:.3f} (goal 1.25); max |joint - alone| {differences[0]:.1e}, {differences[1]:.1e}")
    return figures


def fill_costs(args, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> dict:
    """One deletion and one insertion curve of a map under each fill, alternated within rounds;
    for ROAD also the imputation alone (its sparse solves), timed as it happens."""
    from spectral_xai.metrics import road
    from spectral_xai.metrics.insertion_deletion import FILLS, deletion, insertion

    saliency = torch.rand(image.shape[-2:], generator=torch.Generator().manual_seed(0))
    imputation, solving = road.road_fill, [0.0]

    def timed_fill(*fill_args, **fill_kwargs):
        start = time.perf_counter()
        out = imputation(*fill_args, **fill_kwargs)
        solving[0] += time.perf_counter() - start
        return out

    def arm(measure, fill: str):
        def run() -> tuple[float, float]:
            solving[0] = 0.0
            return seconds(lambda: measure(scorer, image, saliency, target, args.step, fill)), solving[0]
        return run
    arms = {f"{curve} {fill}": arm(measure, fill) for fill in FILLS
            for curve, measure in (("deletion", deletion), ("insertion", insertion))}
    road.road_fill = timed_fill
    try:
        measured = alternated(arms, args.rounds)
    finally:
        road.road_fill = imputation
    print(f"fills at {image.shape[-1]} px, step {args.step}: seconds per curve")
    figures = {}
    for name, rounds in measured.items():
        spent = [s for s, _ in rounds]
        zeros = [s for s, _ in measured[f"{name.split()[0]} zeros"]]
        entry = {"seconds": spread(spent), "over_zeros": spread([s / z for s, z in zip(spent, zeros)], 2)}
        if name.endswith("road"):
            entry["imputation_share"] = spread([solve / s for s, solve in rounds], 2)
        figures[name] = entry
        print(f"{name:<20}{entry['seconds']['median']:>8.2f} s  x{entry['over_zeros']['median']:.2f} zeros'"
              + (f"  (imputation {entry['imputation_share']['median']:.0%})" if "imputation_share" in entry else ""))
    return {"step": args.step, "image_size": int(image.shape[-1]), "curves": figures}
