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
from spectral_xai.evaluation import mean_correlation  # noqa: E402
from spectral_xai.explainers import create  # noqa: E402
from spectral_xai.metrics import insertion_deletion  # noqa: E402

GOAL = 0.95


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--masks", default="125,250,500,1000,2000,4000")
    parser.add_argument("--boxes", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rule", default="matched", choices=("matched", "drise", "anchor"))
    parser.add_argument("--step", type=float, default=0.05)
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
    write_result("rise_convergence", args.results, vars(args),
                 {"boxes": len(found), "box_scores": [round(t.score, 3) for _, t in found], "rule": args.rule,
                  "by_masks": figures, "goal_r": GOAL, "converged_at": converged})


if __name__ == "__main__":
    main()
