"""Where RISE's time goes, per runtime: the net's passes, decoding, the masks, and the rest.

    python benchmarks/rise_time.py --trained-at 512 --masks 500       # the paper's RISE on the 512-px net
    python benchmarks/rise_time.py --masks 64 --rounds 3               # the 128-px shared net

On the best validation detection (of the first ``--images``) of the net, RISE with ``--masks`` masks
(batches of ``--batch-size``) runs once per runtime and round, alternated: torch in ``channels_last``
(explain.py's layout under ``runtime: torch``) and ONNX Runtime (its default on a CPU). Each run's
seconds are split by timing the detector's passes and decoding and the masks' making as they happen;
the rest is the matched rule and RISE's own sums. The runtime's export happens before the first
round, outside the timings. Writes benchmarks/results/rise_time.json.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import add_results_argument, alternated, spread, write_result  # noqa: E402
from trained import add_checkpoint_argument, add_trained_at_argument, best_image, checkpoint_path, validation_images  # noqa: E402

from spectral_xai.detection import DetectionScorer, EffdetDetector, Scoring  # noqa: E402
from spectral_xai.explainers import create  # noqa: E402
from spectral_xai.explainers import rise  # noqa: E402

PARTS = ("passes", "decode", "masks")


@contextmanager
def timing_parts(spent: dict[str, float]) -> Iterator[None]:
    """Adds to ``spent`` the seconds of every detector pass and decode, and of making every chunk of masks."""
    passes, decode, masks = EffdetDetector.passes, EffdetDetector.decode, rise.rise_masks

    def timed(name, fn):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
        return run

    def timed_masks(*args, **kwargs):
        chunks = masks(*args, **kwargs)
        while True:
            start = time.perf_counter()
            chunk = next(chunks, None)
            spent["masks"] += time.perf_counter() - start
            if chunk is None:
                return
            yield chunk

    EffdetDetector.passes, EffdetDetector.decode = timed("passes", passes), timed("decode", decode)
    rise.rise_masks = timed_masks
    try:
        yield
    finally:
        EffdetDetector.passes, EffdetDetector.decode, rise.rise_masks = passes, decode, masks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_argument(parser)
    add_trained_at_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--masks", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    module, images = validation_images(checkpoint_path(args.checkpoint, args.trained_at), args.images)
    in_layout = copy.deepcopy(module).use_channels_last()
    detectors = {"torch (channels_last)": in_layout.detector().use_runtime("torch"),
                 "onnxruntime": module.detector().use_runtime("onnxruntime")}
    index, (target,) = best_image(detectors["torch (channels_last)"], images)
    image = images[index]
    method = create("rise", n_masks=args.masks)
    scorers = {name: DetectionScorer(detector, Scoring().build(), args.batch_size) for name, detector in detectors.items()}
    scorers["onnxruntime"](image[None], target)  # the export, outside the timings
    spent: dict[str, list[dict[str, float]]] = {name: [] for name in scorers}

    def run(name: str) -> None:
        parts: dict[str, float] = defaultdict(float)
        with timing_parts(parts):
            start = time.perf_counter()
            method(scorers[name], image, target)
            parts["total"] = time.perf_counter() - start
        parts["rest"] = parts["total"] - sum(parts[p] for p in PARTS)
        spent[name].append(dict(parts))

    alternated({name: (lambda name=name: run(name)) for name in scorers}, args.rounds)
    size = image.shape[-1]
    figures = {"image_size": size, "masks": args.masks, "target_score": round(target.score, 4)}
    print(f"RISE, {args.masks} masks, at {size} px, target score {target.score:.2f}, {args.rounds} round(s)")
    for name, rounds in spent.items():
        figures[name] = {"seconds_per_box": spread([r["total"] for r in rounds], 2),
                         "ms_per_mask": spread([1000 * r["total"] / args.masks for r in rounds], 1),
                         "share": {part: round(sum(r[part] for r in rounds) / sum(r["total"] for r in rounds), 3)
                                   for part in (*PARTS, "rest")}}
        f = figures[name]
        print(f"{name:<22} {f['seconds_per_box']['median']:7.2f} s a box, {f['ms_per_mask']['median']:6.1f} ms a mask; "
              + ", ".join(f"{part} {share:.0%}" for part, share in f["share"].items()))
    runtime, torch_ = (figures[n]["seconds_per_box"]["median"] for n in ("onnxruntime", "torch (channels_last)"))
    figures["onnxruntime_over_torch"] = round(runtime / torch_, 3)
    write_result("rise_time", args.results, vars(args), figures)


if __name__ == "__main__":
    main()
