"""What each explanation costs, as a ratio to the model evaluations it cannot avoid.

    python benchmarks/explainer_cost.py [--checkpoint runs/demo/checkpoints/last.ckpt --rounds 3]

For each registered method (and SESS around RISE): its wall time divided by the time of the model
evaluations it cannot avoid: the images it runs through the detector (timed as batched detections)
plus, for gradient methods, one forward + backward pass each (SESS around Grad-CAM: its windows'
detections plus one per explained window). Goals: <= 1.15 for perturbation methods and
insertion/deletion, <= 1.5 for gradient methods. The model cost is timed right before
each method by running the same number of images through the detector in the same batch size, so
both see the same machine load; the median ratio over --rounds rounds is printed.
Then RISE's peak memory (resident set size of a fresh process) at N = 5000 masks against N = 500;
goal: within 10%.
Then shared perturbations: RISE and D-RISE explaining the K best detections of the image in one call
against explaining its best one, time(K) / time(1) (goal <= 1.25 for K = 8; median over --rounds
rounds, the two timed alternately), with the largest
difference between a jointly made map and the same target's map made alone (K = 1 for the best
target, a separate run for the K-th).

The detection unit is a batch through the network and effdet's post-processing at the paper's
re-identification floor (score >= 0.05: lower candidates are dropped before NMS, which changes no
detection the rule can see); the same unit without the floor is printed to show what that saves.
With --checkpoint, the first validation image of the checkpoint's data is explained (a trained net's
score distribution is what makes NMS expensive); without it, a randomly initialised EfficientDet-D0
and a noise image, whose candidates all score about 0.01.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch

warnings.filterwarnings("ignore")

from spectral_xai.checkpoint import load_checkpoint  # noqa: E402
from spectral_xai.data_modules.layout import CLASS_NAMES  # noqa: E402
from spectral_xai.detection import DetectionScorer, Scoring, Target  # noqa: E402
from spectral_xai.evaluation import ExplainSettings, Explainer  # noqa: E402
from spectral_xai.explainers import REGISTRY, SaliencyMethod, create  # noqa: E402
from spectral_xai.explainers.sess import SESS  # noqa: E402
from spectral_xai.lit_modules import EfficientDetModule  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402


def build(args) -> tuple[DetectionScorer, torch.Tensor, Target]:
    torch.manual_seed(0)
    if args.checkpoint:
        module, datamodule = load_checkpoint(args.checkpoint)
        datamodule.prepare_data()
        datamodule.setup("validate")
        image = datamodule.val_dataloader().dataset[0]["image"]
    else:
        module = EfficientDetModule(CLASS_NAMES, image_size=args.image_size).eval()
        image = torch.randn(module.hparams.in_chans, args.image_size, args.image_size)
    detector = module.detector()
    with torch.no_grad():
        target = Target.from_detections(detector(image[None]))
    return DetectionScorer(detector, Scoring().build(), args.batch_size), image, target


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def detection_seconds(detector, image, images: int, batch_size: int, min_score: float) -> float:
    """``images`` copies of ``image`` through the detector, ``batch_size`` at a time."""
    batch = image[None].expand(batch_size, -1, -1, -1).contiguous()
    with torch.no_grad():
        return seconds(lambda: [detector(batch[: min(batch_size, images - start)], min_score)
                                for start in range(0, images, batch_size)])


def forward_backward_seconds(detector, image, target) -> float:
    def once():
        x = image[None].clone().requires_grad_(True)
        raw = detector.raw(x)
        detector.logit(raw, target).backward()
    once()
    return min(seconds(once) for _ in range(3))


def rise_peak_rss(n_masks: int, args) -> None:
    scorer, image, target = build(args)
    create("rise", n_masks=8)(scorer, image, target)  # warm-up allocations
    create("rise", n_masks=n_masks)(scorer, image, target)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128, help="without --checkpoint")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rise-masks", type=int, default=500)
    parser.add_argument("--sess-rise-masks", type=int, default=100, help="RISE's masks per window, for SESS around RISE")
    parser.add_argument("--step", type=float, default=0.02, help="insertion/deletion step, share of the image")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-cost", action="store_true", help="skip the per-method ratios")
    parser.add_argument("--skip-shared", action="store_true", help="skip the K-detections ratio")
    parser.add_argument("--targets", type=int, default=8, help="K, detections explained together")
    parser.add_argument("--rise-memory", type=int, default=0, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.rise_memory:
        return rise_peak_rss(args.rise_memory, args)

    scorer, image, target = build(args)
    print(f"image {image.shape[-1]}px, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"target score {target.score:.3f}")
    if not args.skip_cost:
        method_costs(args, scorer, image, target)
    if not args.skip_memory:
        rise_memory(args)
    if not args.skip_shared:
        shared_perturbations(args, scorer.detector, image)


def method_costs(args, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> None:
    """Every registered method (and SESS around RISE) against the model evaluations it makes."""
    detector, floor = scorer.detector, scorer.rule.min_score
    settings = {"rise": {"n_masks": args.rise_masks},
                "sess(rise)": {"base": "rise", "base_settings": {"n_masks": args.sess_rise_masks}}}
    methods = {name: create(name.split("(")[0], **settings.get(name, {})) for name in [*sorted(REGISTRY), "sess(rise)"]}
    costs = {name: _evaluations(method, scorer, image, target) for name, method in methods.items()}
    saliency = torch.rand(image.shape[-2:])
    metric_passes = 2 * (round(1 / args.step) + 1)
    detection_seconds(detector, image, args.batch_size, args.batch_size, floor)  # warm-up
    ratios: dict[str, list[float]] = {}
    units, full_units = [], []
    for _ in range(args.rounds):
        units.append(detection_seconds(detector, image, args.batch_size, args.batch_size, floor) / args.batch_size)
        full_units.append(detection_seconds(detector, image, args.batch_size, args.batch_size, 0.0) / args.batch_size)
        backward = forward_backward_seconds(detector, image, target)
        for name, method in methods.items():
            passes, gradients = costs[name]
            cost = detection_seconds(detector, image, passes, args.batch_size, floor) + gradients * backward
            # A method taking under a second is timed at its best of three, as its unit is.
            repeats = 3 if cost < 1 else 1
            ratios.setdefault(name, []).append(min(seconds(lambda: method(scorer, image, target)) for _ in range(repeats)) / cost)
        cost = sum(detection_seconds(detector, image, metric_passes // 2, args.batch_size, floor)
                   for _curve in ("insertion", "deletion"))
        ratios.setdefault("insertion+deletion", []).append(
            seconds(lambda: insertion_deletion(scorer, image, saliency, target, step=args.step)) / cost)
    unit, full = statistics.median(units), statistics.median(full_units)
    print(f"batched detection {unit * 1000:.1f} ms/image with effdet's post-processing at score >= {floor}, "
          f"{full * 1000:.1f} ms/image without the floor ({full / unit:.2f}x)")
    what = {name: " + ".join(part for part in (f"{passes} passes" if passes else "",
                                                f"{gradients} forward+backward" if gradients else "") if part)
            for name, (passes, gradients) in costs.items()}
    what["insertion+deletion"] = f"{metric_passes} passes, step {args.step}"
    print(f"{'method':<20}{'ratio':>8}{'goal':>7}  {'ratio per round':<24}model evaluations")
    for name, values in ratios.items():
        rounds = " ".join(f"{v:.3f}" for v in values)
        goal = 1.5 if costs.get(name, (1, 0))[1] else 1.15
        print(f"{name:<20}{statistics.median(values):>8.3f}{goal:>7.2f}  {rounds:<24}{what[name]}")


def _evaluations(method: SaliencyMethod, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> tuple[int, int]:
    """(images through the detector without gradient, forward+backward passes) that ``method``
    cannot avoid, counted on one call: the scorer counts the first; a gradient method is one
    forward+backward; a method that reads feature maps first (SIDU, Score-CAM) adds one pass; SESS
    adds its base method's share on each window it explains."""
    before = scorer.forward_passes
    if isinstance(method, SESS):
        windows, explain_batch = [], method.base.explain_batch
        method.base.explain_batch = lambda scorer_, images, *a: windows.append(len(images)) or explain_batch(scorer_, images, *a)
        method(scorer, image, target)
        del method.base.explain_batch
        passes, explained = scorer.forward_passes - before, sum(windows)
        base_passes, base_gradients = _evaluations(method.base, DetectionScorer(scorer.detector, scorer.rule), image, target)
        feature_passes = explained if base_passes and hasattr(method.base, "layer") else 0
        return passes + feature_passes, explained * base_gradients
    method(scorer, image, target)
    passes = scorer.forward_passes - before
    if not passes:
        return 0, 1
    return passes + (1 if hasattr(method, "layer") else 0), 0


def rise_memory(args) -> None:
    base = [sys.executable, __file__, "--image-size", str(args.image_size), "--batch-size", str(args.batch_size)]
    if args.checkpoint:
        base += ["--checkpoint", args.checkpoint]
    peaks = {}
    for n in (500, 5000):
        out = subprocess.run(base + ["--rise-memory", str(n)], capture_output=True, text=True, check=True)
        peaks[n] = int(out.stdout.strip().splitlines()[-1]) / 1024
    print(f"RISE peak RSS: N=500 {peaks[500]:.0f} MiB, N=5000 {peaks[5000]:.0f} MiB, "
          f"ratio {peaks[5000] / peaks[500]:.3f} (goal <= 1.10)")


def shared_perturbations(args, detector, image: torch.Tensor) -> None:
    """K detections from one stream of masked images against one detection, for both rules."""
    targets = Explainer(ExplainSettings(["rise"], target_min_score=0.0, boxes=args.targets)).targets(detector, image)
    if len(targets) < args.targets:
        raise SystemExit(f"the image has only {len(targets)} detections with an area; K = {args.targets} asked")
    threshold = targets[-1].score
    print(f"shared perturbations: the {len(targets)} best detections (score >= {threshold:.4f}, the threshold "
          f"that yields {len(targets)}), RISE {args.rise_masks} masks")
    print(f"{'rule':<10}{'K=1 s':>8}{f'K={len(targets)} s':>9}{'ratio':>8}{'goal':>6}  max |joint - alone| (best, K-th)")
    # The matched rule's floor at the K-th score, so that every target can be re-identified.
    for rule in (Scoring("matched", min_score=min(0.05, threshold)), Scoring("drise")):
        rise = create("rise", n_masks=args.rise_masks)
        scorer = DetectionScorer(detector, rule.build(), args.batch_size)
        create("rise", n_masks=args.batch_size).explain_all(scorer, image, targets)  # warm-up
        alone_seconds, joint_seconds = [], []
        for _ in range(args.rounds):  # alternated, so that both see the same machine load
            one, many = [], []
            alone_seconds.append(seconds(lambda: one.extend(rise.explain_all(scorer, image, targets[:1]))))
            joint_seconds.append(seconds(lambda: many.extend(rise.explain_all(scorer, image, targets))))
        last = rise(scorer, image, targets[-1])
        differences = [float((many[0] - one[0]).abs().max()), float((many[-1] - last).abs().max())]
        ratios = [j / a for j, a in zip(joint_seconds, alone_seconds)]
        print(f"{rule.rule:<10}{statistics.median(alone_seconds):>8.1f}{statistics.median(joint_seconds):>9.1f}"
              f"{statistics.median(ratios):>8.3f}{1.25:>6.2f}  {differences[0]:.1e}, {differences[1]:.1e}"
              f"   per round: {' '.join(f'{r:.3f}' for r in ratios)}")


if __name__ == "__main__":
    main()
