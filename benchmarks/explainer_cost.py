"""What each explanation costs, as a ratio to the model evaluations it cannot avoid, on a trained net.

    python benchmarks/explainer_cost.py [--checkpoint CKPT] [--rounds 3]            # 128 px: ratios, floor, memory, K boxes
    python benchmarks/explainer_cost.py --image-size 512 --sections per_box --rounds 2  # the paper's input size
    python benchmarks/explainer_cost.py --image-size 512 --sections layouts --rounds 2 --methods rise,sidu,scorecam \
        --rise-masks 100 --name layouts_512px                         # eager / channels_last / compiled / onnxruntime

Writes benchmarks/results/explainer_cost_<size>px.json (min / median / max over the rounds of every figure).

Sections (``--sections``, comma-separated):

- ``cost``: each registered method (and SESS around RISE) against its baseline: exactly the images the
  method sent through the detector, recorded on a first call and run again in the same batches at the
  same score floor (RISE's masked images, SIDU's and Score-CAM's channel-masked ones, SESS's windows,
  the metric's partly deleted and inserted images), plus one forward pass of the image for a method that
  reads feature maps first, plus per gradient explanation one forward pass and the backward pass from the
  detection's logit to the features the method reads (to the input for ``gradient``). Method and
  baseline are timed once each per round, alternately, ``--rounds`` rounds; the ratio of each round is
  kept. Goals: <= 1.15 for perturbation methods and insertion/deletion, <= 1.5 for gradient methods.
- ``floor``: the same perturbed images (RISE's and the metric's) decoded with candidates under the
  matched rule's floor (0.05) dropped before NMS, against decoding all of them, alternated rounds.
- ``memory``: RISE's peak resident memory (a fresh process each) at N = 5000 masks against N = 500
  (``--memory-masks``), goal: within 10 %; and the memory the explanation itself added in each.
- ``shared``: RISE and D-RISE explaining the K best detections of the image in one call against
  explaining its best one, time(K) / time(1) (goal <= 1.25 for K = 8), with the largest difference
  between a jointly made map and the same target's map made alone.
- ``layouts``: each perturbation method (and the metric) with the net as explain.py can run it: eager
  (the default layout), ``channels_last`` (explain.py's default) and ``channels_last`` compiled
  (``compile: true``), and on ONNX Runtime (``runtime: onnxruntime``, explain.py's default on a CPU),
  alternated within each round: seconds per box, the ratio to the method's own model evaluations run
  at that speed, the speed-up over eager, and the correlation of each map with eager's (goal >=
  0.999); the compiled net's warm-up (first pass and the recompile for a second batch size) and the
  runtime's export (into an empty cache) are reported apart, paid once per net.
- ``per_box``: every registered method's seconds per box at its defaults (RISE 500 masks), each
  method in a fresh process, with the most resident memory its explanations added to what the
  process held before them (sampled every 5 ms; Linux) and the process's peak.

The net is ``--checkpoint`` or the tests' shared trained net; the image is the validation image (of
the first ``--images``, 16) whose best detection scores highest. At another ``--image-size`` than the net's, the
trained weights run with anchors for that size on the image resized to it.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, alternated, spread, timed, write_result  # noqa: E402
from trained import add_checkpoint_argument, add_trained_at_argument, at_size, best_image, checkpoint_path, validation_images  # noqa: E402

from spectral_xai.cached_nets import CACHE_VARIABLE  # noqa: E402
from spectral_xai.detection import DetectionScorer, EffdetDetector, Scoring, Target, runtime  # noqa: E402
from spectral_xai.explain_settings import ExplainSettings  # noqa: E402
from spectral_xai.explainers.baselines import BASELINES  # noqa: E402
from spectral_xai.explainer import Explainer  # noqa: E402
from spectral_xai.explainers import REGISTRY, SaliencyMethod, create  # noqa: E402
from spectral_xai.explainers.features import features_for_level, tap_inputs  # noqa: E402
from spectral_xai.explainers.sess import SESS  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402

SECTIONS = ("cost", "floor", "memory", "shared", "layouts", "per_box")
LAYOUTS = ("eager", "channels_last", "compiled", "onnxruntime")


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


@contextmanager
def env_var(name: str, value: str):
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name) if before is None else os.environ.__setitem__(name, before)


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
    return [name for name in sorted(REGISTRY) if name not in BASELINES]


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


def child(args, checkpoint: Path, *extra: str) -> dict:
    command = [sys.executable, __file__, "--checkpoint", str(checkpoint), "--image-size", str(args.image_size or 0),
               "--batch-size", str(args.batch_size), "--rounds", str(args.rounds), "--results", str(args.results),
               "--rise-masks", str(args.rise_masks), "--sess-rise-masks", str(args.sess_rise_masks),
               "--images", str(args.images), *extra]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(extra)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:  # Linux: pages in memory, the second number
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class PeakMemory:
    """The largest resident memory while the block runs, sampled every 5 ms, above what it was at its start."""

    def __enter__(self) -> "PeakMemory":
        self.start = self.peak = resident_mib()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, resident_mib())
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, resident_mib())

    @property
    def above_start(self) -> float:
        return self.peak - self.start


def child_run(args) -> dict:
    """In a fresh process: ``--child NAME [N]`` explains the image ``rounds`` times (``rise N``: at N
    masks once), ``--child none`` only loads; prints the process's peak resident memory, the most the
    explanations added to what it held before them, and their seconds."""
    detector, image, target, _ = pick_image(checkpoint_path(args.checkpoint, args.trained_at), args.image_size, args.images)
    scorer = DetectionScorer(detector, Scoring().build(), args.batch_size)
    name, *count = args.child
    times, added = [], 0.0
    if name != "none":
        args.methods, args.rise_masks = name, int(count[0]) if count else args.rise_masks
        method = methods_under_test(args)[name]
        with PeakMemory() as memory:
            for _ in range(1 if count else args.rounds):
                times.append(seconds(lambda: method(scorer, image, target)))
        added = memory.above_start
    return {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "added_mib": added, "seconds": times}


def rise_memory(args, checkpoint: Path) -> dict:
    few, many = (int(n) for n in args.memory_masks.split(","))
    runs = {n: child(args, checkpoint, "--child", "rise", str(n)) for n in (few, many)}
    peaks = {n: run["peak_rss_mib"] for n, run in runs.items()}
    added = {n: run["added_mib"] for n, run in runs.items()}
    print(f"RISE peak RSS: N={few} {peaks[few]:.0f} MiB, N={many} {peaks[many]:.0f} MiB, "
          f"ratio {peaks[many] / peaks[few]:.3f} (goal <= 1.10); added by the explanation {added[few]:.0f} MiB "
          f"and {added[many]:.0f} MiB")
    return {"masks": [few, many], "peak_rss_mib": [round(peaks[few], 1), round(peaks[many], 1)],
            "added_mib": [round(added[few], 1), round(added[many], 1)],
            "ratio": round(peaks[many] / peaks[few], 3), "goal": 1.10}


def per_box(args, checkpoint: Path) -> dict:
    idle = child(args, checkpoint, "--child", "none")["peak_rss_mib"]
    print(f"per box at {args.image_size or 'the net'}px (a fresh process each; idle process {idle:.0f} MiB)")
    print(f"{'method':<20}{'s per box min/med/max':>26}{'peak MiB':>10}{'added MiB':>11}")
    figures = {"idle_peak_rss_mib": round(idle, 1)}
    # The registered methods at their defaults (SESS around RISE, 11 windows x 100 masks, is left to --methods).
    for name in args.methods.split(",") if args.methods else registered():
        result = child(args, checkpoint, "--child", name)
        s = spread(result["seconds"], 3)
        figures[name] = {"seconds_per_box": s, "peak_rss_mib": round(result["peak_rss_mib"], 1),
                         "added_mib": round(result["added_mib"], 1)}
        print(f"{name:<20}{s['min']:>10.3f}/{s['median']:.3f}/{s['max']:.3f}{result['peak_rss_mib']:>10.0f}"
              f"{result['added_mib']:>11.0f}")
    return figures


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


def laid_out(detector: EffdetDetector, layout: str) -> EffdetDetector:
    """A copy of ``detector`` as explain.py runs it under ``layout`` (see :data:`LAYOUTS`)."""
    if layout == "eager":
        return detector
    variant = copy.deepcopy(detector)
    if layout == "onnxruntime":
        return variant.use_runtime("onnxruntime")
    variant.net.to(memory_format=torch.channels_last)
    variant.memory_format = torch.channels_last
    return variant.compile_passes() if layout == "compiled" else variant


def layout_speeds(args, detector: EffdetDetector, image: torch.Tensor, target: Target) -> dict:
    """Every perturbation method and the metric under each layout, alternated, with its own work as
    the baseline at that layout's speed and its maps against eager's."""
    floor = Scoring().build().min_score
    layouts = args.layouts.split(",")
    if set(layouts) - set(LAYOUTS) or "eager" not in layouts:
        raise SystemExit(f"--layouts {args.layouts}: choose eager and any of {', '.join(LAYOUTS[1:])}")
    variants = {layout: laid_out(detector, layout) for layout in layouts}
    figures: dict = {}
    if "compiled" in variants:
        batch = image[None].expand(args.batch_size, -1, -1, -1)
        warm_up = seconds(lambda: (variants["compiled"].passes(batch), variants["compiled"].passes(batch[:3])))
        figures["compile_warm_up_seconds"] = round(warm_up, 1)
        print(f"layouts: compiling the net took {warm_up:.1f} s (first pass and a second batch size), paid once per net")
    if "onnxruntime" in variants:
        runtime.forget_sessions()  # the export and the session's start, timed whole
        with tempfile.TemporaryDirectory() as cache, env_var(CACHE_VARIABLE, cache):
            export = seconds(lambda: variants["onnxruntime"].passes(image[None]))
        figures["runtime_export_seconds"] = round(export, 1)
        print(f"layouts: exporting the net to ONNX and starting its session took {export:.1f} s, paid once per net")
    scorers = {layout: DetectionScorer(variant, Scoring().build(), args.batch_size) for layout, variant in variants.items()}
    saliency = torch.rand(image.shape[-2:], generator=torch.Generator().manual_seed(0))
    methods = {name: method for name, method in methods_under_test(args).items() if method.perturbs}
    runs = {name: (lambda scorer, m=method: m(scorer, image, target)) for name, method in methods.items()}
    runs["insertion+deletion"] = lambda scorer: torch.tensor([curve.auc for curve in insertion_deletion(
        scorer, image, saliency, target, step=args.step)])
    work = {name: unavoidable_work(method, scorers["eager"], image, target) for name, method in methods.items()}
    recorder = RecordingScorer(scorers["eager"])
    insertion_deletion(recorder, image, saliency, target, step=args.step)
    work["insertion+deletion"] = Work(recorder.chunks, 0, 0)
    print(f"{'method':<20}{'layout':>14}{'s per box':>11}{'/ own evaluations':>19}{'vs eager':>10}{'map r':>10}")
    for name, run in runs.items():
        measured = alternated({layout: lambda layout=layout: (
            timed(lambda: run(scorers[layout])), baseline_seconds(variants[layout], work[name], image, target, floor))
            for layout in layouts}, args.rounds)
        spent = {layout: [s for (s, _), _ in rounds_] for layout, rounds_ in measured.items()}
        base = {layout: [b for _, b in rounds_] for layout, rounds_ in measured.items()}
        outputs = {layout: rounds_[-1][0][1] for layout, rounds_ in measured.items()}
        figures[name] = {}
        for layout in layouts:
            metric = name == "insertion+deletion"  # two AUCs, compared by their largest difference
            difference = float((outputs[layout] - outputs["eager"]).abs().max())
            # A blank map (no mask re-identified the box) has no correlation: its largest difference says it all.
            blank = not metric and bool(outputs["eager"].max() == outputs["eager"].min())
            agreement = difference if metric or blank else float(
                torch.corrcoef(torch.stack([outputs[layout].flatten(), outputs["eager"].flatten()]))[0, 1])
            figures[name][layout] = {
                "seconds_per_box": spread(spent[layout], 3),
                "over_own_evaluations": spread([s / b for s, b in zip(spent[layout], base[layout])], 3),
                "over_eager": spread([s / e for s, e in zip(spent[layout], spent["eager"])], 3),
                "auc_difference_to_eager" if metric else "map_difference_to_eager" if blank else "map_r_to_eager":
                    round(agreement, 6)}
            f = figures[name][layout]
            print(f"{name:<20}{layout:>14}{f['seconds_per_box']['median']:>11.3f}{f['over_own_evaluations']['median']:>19.3f}"
                  f"{f['over_eager']['median']:>10.3f}{agreement:>10.4f}")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_trained_at_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--image-size", type=int, default=0, help="default: the net's own")
    parser.add_argument("--sections", default="cost,floor,memory,shared,layouts", help=f"any of {','.join(SECTIONS)}")
    parser.add_argument("--methods", default="", help="comma-separated (default: every registered method and sess(rise))")
    parser.add_argument("--images", type=int, default=16, help="validation images the explained one is chosen from")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rise-masks", type=int, default=500)
    parser.add_argument("--sess-rise-masks", type=int, default=100, help="RISE's masks per window, for SESS around RISE")
    parser.add_argument("--step", type=float, default=0.02, help="insertion/deletion step, share of the image")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-masks", default="500,5000", help="the two mask counts of the memory section")
    parser.add_argument("--targets", type=int, default=8, help="K, detections explained together")
    parser.add_argument("--name", default="", help="the result file's name (default: explainer_cost_<size>px)")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help=f"the layouts section's, eager and any of {LAYOUTS[1:]}")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # a fresh process measuring one method
    args = parser.parse_args(argv)
    if args.child:
        return print(json.dumps(child_run(args)))
    sections = args.sections.split(",")
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    checkpoint = checkpoint_path(args.checkpoint, args.trained_at)
    detector, image, target, in_scale = pick_image(checkpoint, args.image_size, args.images)
    scorer = DetectionScorer(detector, Scoring().build(), args.batch_size)
    size = image.shape[-1]
    print(f"{checkpoint}: image {size}px, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"target score {target.score:.3f}, {args.rounds} rounds")
    if {"cost", "floor", "shared"} & set(sections):  # timed here; the other sections time fresh processes
        scorer(image[None].expand(args.batch_size, -1, -1, -1), target)  # warm-up
    figures = {"image_size": size, "target_score": round(target.score, 4), "target_in_scale": in_scale}
    for section, run in (("cost", lambda: method_costs(args, scorer, image, target)),
                         ("floor", lambda: floor_saving(args, scorer, image, target)),
                         ("memory", lambda: rise_memory(args, checkpoint)),
                         ("shared", lambda: shared_perturbations(args, detector, image)),
                         ("layouts", lambda: layout_speeds(args, detector, image, target)),
                         ("per_box", lambda: per_box(args, checkpoint))):
        if section in sections:
            figures[section] = run()
    write_result(args.name or f"explainer_cost_{size}px", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
