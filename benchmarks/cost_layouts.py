"""explainer_cost.py's section ``layouts``: each perturbation method and the metric with the net as
explain.py can run it (eager, ``channels_last``, compiled, ONNX Runtime), alternated within rounds."""
from __future__ import annotations

import copy
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cost_work import RecordingScorer, Work, baseline_seconds, methods_under_test, seconds, unavoidable_work  # noqa: E402
from result_files import alternated, spread, timed  # noqa: E402

from spectral_xai.detection import DetectionScorer, EffdetDetector, Scoring, Target, runtime  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402
from spectral_xai.settings import CACHE_VARIABLE  # noqa: E402

LAYOUTS = ("eager", "channels_last", "compiled", "onnxruntime")


@contextmanager
def env_var(name: str, value: str):
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name) if before is None else os.environ.__setitem__(name, before)


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
