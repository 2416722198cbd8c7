"""What each explanation costs, as a ratio to the model evaluations it cannot avoid.

    python benchmarks/explainer_cost.py [--image-size 128 --batch-size 32 --rise-masks 500]

For each method: its wall time divided by (number of images it runs through the detector x the
batched per-image detection time), or for Grad-CAM by one forward + backward pass. Goals: <= 1.15
for RISE, SIDU and insertion/deletion, <= 1.5 for Grad-CAM. Then RISE's peak memory (resident set
size of a fresh process) at N = 5000 masks against N = 500; goal: within 10%.
A trained checkpoint can be given with --checkpoint; by default a randomly initialised EfficientDet-D0
is used (the cost of a pass does not depend on the weights).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import warnings

import torch

warnings.filterwarnings("ignore")

from spectral_xai.explainers import DetectionScorer, EffdetDetector, Target, create  # noqa: E402
from spectral_xai.lit_modules import EfficientDetModule  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402


def build(args) -> tuple[EffdetDetector, torch.Tensor, Target]:
    torch.manual_seed(0)
    if args.checkpoint:
        module = EfficientDetModule.load_from_checkpoint(args.checkpoint, map_location="cpu")
    else:
        module = EfficientDetModule(image_size=args.image_size)
    detector = EffdetDetector.from_module(module.eval())
    size = module.hparams.image_size
    image = torch.randn(module.hparams.in_chans, size, size)
    with torch.no_grad():
        target = Target.from_detections(detector(image[None]))
    return detector, image, target


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def per_image_detection_seconds(detector, image, batch_size: int) -> float:
    batch = image[None].expand(batch_size, -1, -1, -1).contiguous()
    with torch.no_grad():
        detector(batch)  # warm-up
        return timed(lambda: detector(batch), repeat=3) / batch_size


def forward_backward_seconds(detector, image, target) -> float:
    def once():
        x = image[None].clone().requires_grad_(True)
        raw = detector.raw(x)
        detector.logit(raw, target).backward()
    once()
    return timed(once, repeat=3)


def rise_peak_rss(n_masks: int, args) -> None:
    detector, image, target = build(args)
    create("rise", n_masks=8, batch_size=args.batch_size)(detector, image, target)  # warm-up allocations
    create("rise", n_masks=n_masks, batch_size=args.batch_size)(detector, image, target)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rise-masks", type=int, default=500)
    parser.add_argument("--step", type=float, default=0.02, help="insertion/deletion step, share of the image")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--rise-memory", type=int, default=0, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.rise_memory:
        return rise_peak_rss(args.rise_memory, args)

    detector, image, target = build(args)
    unit = per_image_detection_seconds(detector, image, args.batch_size)
    print(f"image {image.shape[-1]}px, batch {args.batch_size}, {torch.get_num_threads()} threads; "
          f"batched detection {unit * 1000:.1f} ms/image")
    rows = []
    for name, settings in (("rise", {"n_masks": args.rise_masks}), ("sidu", {})):
        method = create(name, batch_size=args.batch_size, **settings)
        seconds = timed(lambda: method(detector, image, target))
        # SIDU: one pass for the feature maps, then one per feature channel (mask).
        passes = args.rise_masks if name == "rise" else 1 + _sidu_channels(detector, image, target)
        rows.append((name, seconds, passes * unit, f"{passes} passes"))
    gradcam = create("gradcam")
    seconds = timed(lambda: gradcam(detector, image, target), repeat=3)
    rows.append(("gradcam", seconds, forward_backward_seconds(detector, image, target), "1 forward+backward"))
    saliency = torch.rand(image.shape[-2:])
    scorer = DetectionScorer(detector, batch_size=args.batch_size)
    seconds = timed(lambda: insertion_deletion(scorer, image, saliency, target, step=args.step))
    passes = 2 * (round(1 / args.step) + 1)
    rows.append(("insertion+deletion", seconds, passes * unit, f"{passes} passes, step {args.step}"))
    print(f"{'method':<20}{'seconds':>9}{'model cost':>12}{'ratio':>8}  model evaluations")
    for name, seconds, cost, what in rows:
        print(f"{name:<20}{seconds:>9.2f}{cost:>12.2f}{seconds / cost:>8.3f}  {what}")

    if not args.skip_memory:
        base = [sys.executable, __file__, "--image-size", str(args.image_size), "--batch-size", str(args.batch_size)]
        if args.checkpoint:
            base += ["--checkpoint", args.checkpoint]
        peaks = {}
        for n in (500, 5000):
            out = subprocess.run(base + ["--rise-memory", str(n)], capture_output=True, text=True, check=True)
            peaks[n] = int(out.stdout.strip().splitlines()[-1]) / 1024
        print(f"RISE peak RSS: N=500 {peaks[500]:.0f} MiB, N=5000 {peaks[5000]:.0f} MiB, "
              f"ratio {peaks[5000] / peaks[500]:.3f} (goal <= 1.10)")


def _sidu_channels(detector, image, target) -> int:
    from spectral_xai.explainers.features import features_for_level, tap_inputs

    with torch.no_grad(), tap_inputs(detector.net, "class_net.predict") as calls:
        raw = detector.raw(image[None])
    return features_for_level(calls, detector.locate(raw, target.anchor)[0], "class_net.predict").shape[1]


if __name__ == "__main__":
    main()
