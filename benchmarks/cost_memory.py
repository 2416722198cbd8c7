"""explainer_cost.py's sections ``memory`` and ``per_box``: every figure measured in a fresh process
(``--child``), with the most resident memory its explanations added and the process's peak."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cost_work import methods_under_test, pick_image, registered, seconds  # noqa: E402
from result_files import spread  # noqa: E402
from trained import checkpoint_path  # noqa: E402

from spectral_xai.detection import DetectionScorer, Scoring  # noqa: E402

ENTRY = Path(__file__).with_name("explainer_cost.py")


def child(args, checkpoint: Path, *extra: str) -> dict:
    command = [sys.executable, str(ENTRY), "--checkpoint", str(checkpoint), "--image-size", str(args.image_size or 0),
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
