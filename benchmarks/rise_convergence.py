"""How many masks RISE needs: the seed-to-seed agreement of its maps and the spread of their AUCs
against the number of masks, on a trained net.

    python benchmarks/rise_convergence.py [--checkpoint CKPT] [--masks 125,250,500,1000,2000,4000] [--boxes 3]

Writes benchmarks/results/rise_convergence.json.

For each mask count N and each explained box (the best detection of the first validation images
with one scoring >= 0.3, the net's own size), RISE (8 x 8 grid, p 0.1, the run's default scoring
rule or ``--rule``) explains the box with mask seeds 0 .. ``--seeds`` - 1; per box: the mean Pearson
correlation of its maps over pairs of seeds, the standard deviation over seeds of its deletion and
insertion AUC (step 0.05), and seconds per map. The figures are min / median / max over boxes
(a blank map, nothing re-identified under any mask, has no correlation and is counted). Also the
smallest N at which every box's maps correlate >= 0.95 with themselves.

Then ``n_masks: auto`` at each ``--auto`` reliability (default 0.9): per box and seed the masks RISE
drew before its split halves reached it, the reliability it reported, and per box the maps'
seed-to-seed correlation (goal: >= 0.85 on every box at 0.9) and seconds per map.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, spread, write_result  # noqa: E402
from trained import add_checkpoint_argument, checkpoint_path, confident_boxes  # noqa: E402

from spectral_xai.detection import DetectionScorer, Scoring  # noqa: E402
from spectral_xai.results import mean_correlation  # noqa: E402
from spectral_xai.explainers import create  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402

GOAL = 0.95
AUTO_GOAL = 0.85  # seed-to-seed r that auto at reliability 0.9 should reach on every box


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--masks", default="125,250,500,1000,2000,4000")
    parser.add_argument("--boxes", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rule", default="matched", choices=("matched", "drise", "anchor"))
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--auto", default="0.9", help="reliabilities for n_masks: auto (comma-separated; empty: none)")
    parser.add_argument("--max-masks", type=int, default=8000, help="auto's cap")
    args = parser.parse_args(argv)
    detector, found = confident_boxes(checkpoint_path(args.checkpoint), args.boxes)
    scorer = DetectionScorer(detector, Scoring(args.rule).build(), batch_size=32)
    print(f"{len(found)} boxes scoring {', '.join(f'{t.score:.2f}' for _, t in found)}; rule {args.rule}, "
          f"{args.seeds} seeds, {torch.get_num_threads()} threads")
    print(f"{'masks':>6}  {'seed-to-seed r min/med/max':>28}  {'deletion AUC sd':>16}  {'insertion AUC sd':>17}  {'s per map':>9}  blank")
    figures, converged = {}, None
    for n in (int(m) for m in args.masks.split(",")):
        correlations, deletion_sd, insertion_sd, seconds, blank = [], [], [], [], 0
        for image, target in found:
            maps = []
            for seed in range(args.seeds):
                start = time.perf_counter()
                maps.append(create("rise", n_masks=n, seed=seed)(scorer, image, target))
                seconds.append(time.perf_counter() - start)
            if any(not bool((m > 0).any()) for m in maps):
                blank += 1
                continue
            correlations.append(mean_correlation(maps))
            curves = [insertion_deletion(scorer, image, m, target, args.step) for m in maps]
            insertion_sd.append(statistics.pstdev(c[0].auc for c in curves))
            deletion_sd.append(statistics.pstdev(c[1].auc for c in curves))
        figures[str(n)] = {"seed_to_seed_r": spread(correlations, 3) if correlations else None,
                           "deletion_auc_sd": spread(deletion_sd) if deletion_sd else None,
                           "insertion_auc_sd": spread(insertion_sd) if insertion_sd else None,
                           "seconds_per_map": spread(seconds, 2), "blank_boxes": blank}
        if converged is None and correlations and not blank and min(correlations) >= GOAL:
            converged = n
        r = figures[str(n)]["seed_to_seed_r"]
        agreement = "-" if r is None else f"{r['min']:.3f} / {r['median']:.3f} / {r['max']:.3f}"
        deletion = f"{statistics.median(deletion_sd):.4f}" if deletion_sd else "-"
        insertion = f"{statistics.median(insertion_sd):.4f}" if insertion_sd else "-"
        print(f"{n:>6}  {agreement:>28}  {deletion:>16}  {insertion:>17}  {statistics.median(seconds):>9.2f}  {blank}")
    print(f"smallest mask count whose maps correlate >= {GOAL} with themselves on every box: {converged or 'none tried'}")
    auto = {level: auto_row(scorer, found, float(level), args.seeds, args.max_masks) for level in filter(None, args.auto.split(","))}
    write_result("rise_convergence", args.results, vars(args),
                 {"boxes": len(found), "box_scores": [round(t.score, 3) for _, t in found], "rule": args.rule,
                  "by_masks": figures, "goal_r": GOAL, "converged_at": converged, "auto": auto, "auto_goal_r": AUTO_GOAL})


def auto_row(scorer: DetectionScorer, found: list, reliability: float, seeds: int, max_masks: int) -> dict:
    """RISE with ``n_masks: auto`` at ``reliability`` on every box, ``seeds`` times each."""
    masks, reported, correlations, seconds, blank = [], [], [], [], 0
    for image, target in found:
        maps = []
        for seed in range(seeds):
            start = time.perf_counter()
            ((saliency, info),) = create("rise", n_masks="auto", reliability=reliability, max_masks=max_masks,
                                                   seed=seed).explain_reported(
                scorer, image, [target])
            seconds.append(time.perf_counter() - start)
            maps.append(saliency)
            masks.append(info.masks)
            reported.append(info.reliability)
        if any(not bool((m > 0).any()) for m in maps):
            blank += 1
            continue
        correlations.append(mean_correlation(maps))
    row = {"masks": spread(masks, 0), "reported_reliability": spread([r for r in reported if r == r], 3) if any(r == r for r in reported) else None,
           "seed_to_seed_r": spread(correlations, 3) if correlations else None, "seconds_per_map": spread(seconds, 2),
           "blank_boxes": blank}
    r = row["seed_to_seed_r"]
    print(f"auto at reliability {reliability}: masks {row['masks']['min']:.0f} / {row['masks']['median']:.0f} / "
          f"{row['masks']['max']:.0f}, seed-to-seed r " + ("-" if r is None else f"{r['min']:.3f} / {r['median']:.3f} / {r['max']:.3f}")
          + f" (goal >= {AUTO_GOAL} on every box), {statistics.median(seconds):.2f} s per map, {blank} blank")
    return row


if __name__ == "__main__":
    main()
