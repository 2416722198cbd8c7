"""Why SIDU binarises EfficientDet's features at 0.1 and not at the reference code's 0.5: how much
of the feature maps each threshold keeps, and how many of the channel masks it leaves empty.

    python benchmarks/sidu_coverage.py [--checkpoint CKPT] [--thresholds 0.1,0.5] [--boxes 8]

Writes benchmarks/results/sidu_coverage.json. For the best detection of each of the first
validation images with one scoring >= 0.3 (up to ``--boxes``), the features entering SIDU's default
layer (``class_net.predict``) at the detection's level: per threshold, the share of feature cells
above it and the number of channels with none (an empty mask explains nothing), min / median / max
over boxes.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, spread, write_result  # noqa: E402
from trained import add_checkpoint_argument, checkpoint_path, confident_boxes  # noqa: E402

from spectral_xai.explainers import create  # noqa: E402
from spectral_xai.explainers.features import features_by_level  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--thresholds", default="0.1,0.5")
    parser.add_argument("--boxes", type=int, default=8)
    args = parser.parse_args(argv)
    detector, found = confident_boxes(checkpoint_path(args.checkpoint), args.boxes)
    layer = create("sidu").layer
    features = [next(features_by_level(detector, image, layer, [target]))[0][0] for image, target in found]
    figures = {"boxes": len(features), "channels": features[0].shape[0], "layer": layer, "thresholds": {}}
    for threshold in (float(t) for t in args.thresholds.split(",")):
        kept = [float((f > threshold).float().mean()) for f in features]
        empty = [int(((f > threshold).flatten(1).sum(1) == 0).sum()) for f in features]
        figures["thresholds"][str(threshold)] = {"share_kept": spread(kept, 3), "empty_masks": spread(empty, 1)}
        print(f"threshold {threshold}: {len(features)} boxes, share of cells kept {spread(kept, 3)['min']:.0%} / "
              f"{spread(kept, 3)['median']:.0%} / {spread(kept, 3)['max']:.0%}, empty masks of {features[0].shape[0]}: "
              f"{min(empty)} / {spread(empty, 1)['median']:g} / {max(empty)}")
    write_result("sidu_coverage", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
