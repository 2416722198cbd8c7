"""What each explanation costs, as a ratio to the model evaluations it cannot avoid, on a trained net.

    python benchmarks/explainer_cost.py [--checkpoint CKPT] [--rounds 3]            # 128 px: ratios, floor, memory, K boxes
    python benchmarks/explainer_cost.py --image-size 512 --sections per_box --rounds 2  # the paper's input size
    python benchmarks/explainer_cost.py --image-size 512 --sections layouts --rounds 2 --methods rise,sidu,scorecam \
        --rise-masks 100 --name layouts_512px                         # eager / channels_last / compiled / onnxruntime
    python benchmarks/explainer_cost.py --sections fills --step 0.1 --name fills_128px     # each fill's cost per curve

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
- ``fills``: one deletion and one insertion curve of a map under each fill (zeros, blur, ROAD's
  imputation), alternated within rounds: seconds per curve, the ratio to the zeros fill's, and
  the share of ROAD's time its sparse solves take.

The net is ``--checkpoint`` or the tests' shared trained net; the image is the validation image (of
the first ``--images``, 16) whose best detection scores highest. At another ``--image-size`` than the net's, the
trained weights run with anchors for that size on the image resized to it.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cost_layouts import LAYOUTS, layout_speeds  # noqa: E402
from cost_memory import child_run, per_box, rise_memory  # noqa: E402
from cost_work import fill_costs, floor_saving, method_costs, pick_image, shared_perturbations  # noqa: E402
from result_files import add_results_argument, write_result  # noqa: E402
from trained import add_checkpoint_argument, add_trained_at_argument, checkpoint_path  # noqa: E402

from spectral_xai.detection import DetectionScorer, Scoring  # noqa: E402

SECTIONS = ("cost", "floor", "memory", "shared", "layouts", "per_box", "fills")


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
    if {"cost", "floor", "shared", "fills"} & set(sections):  # timed here; the other sections time fresh processes
        scorer(image[None].expand(args.batch_size, -1, -1, -1), target)  # warm-up
    figures = {"image_size": size, "target_score": round(target.score, 4), "target_in_scale": in_scale}
    for section, run in (("cost", lambda: method_costs(args, scorer, image, target)),
                         ("floor", lambda: floor_saving(args, scorer, image, target)),
                         ("memory", lambda: rise_memory(args, checkpoint)),
                         ("shared", lambda: shared_perturbations(args, detector, image)),
                         ("layouts", lambda: layout_speeds(args, detector, image, target)),
                         ("per_box", lambda: per_box(args, checkpoint)),
                         ("fills", lambda: fill_costs(args, scorer, image, target))):
        if section in sections:
            figures[section] = run()
    write_result(args.name or f"explainer_cost_{size}px", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
