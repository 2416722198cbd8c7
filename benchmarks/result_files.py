"""Benchmark results as files: every figure README quotes, with the command, commit, date and machine
that produced it, written to ``benchmarks/results/<name>.json`` (or ``--results DIR``).

A figure measured over several rounds is kept as ``{"min", "median", "max", "rounds": [...]}``, so that
a reader sees its spread and not one lucky round.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def spread(values: Iterable[float], digits: int = 4) -> dict[str, Any]:
    """min / median / max of a figure over its rounds, with the rounds themselves."""
    values = [float(v) for v in values]
    return {"min": round(min(values), digits), "median": round(statistics.median(values), digits),
            "max": round(max(values), digits), "rounds": [round(v, digits) for v in values]}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def alternated(arms: Mapping[str, Callable[[], Any]], rounds: int) -> dict[str, list[Any]]:
    """Each arm run once per round, the arms' order rotated from round to round so that none always
    runs first (on a colder cache) or last; per arm, what it returned in each round (its own
    measurement: seconds from :func:`timed`, steps per second, ...). The benchmarks' one A/B loop."""
    names = list(arms)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(arms[name]())
    return results


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="folder for the JSON result (default benchmarks/results; run_all --quick uses a scratch folder)")


def commit() -> str:
    """HEAD's hash, with ``+changes`` when tracked files differ from it (the figure is then not HEAD's)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict[str, Any]:
    return {"cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "python": platform.python_version(), "platform": platform.platform()}


def write_result(name: str, results: Path, settings: dict[str, Any], figures: dict[str, Any]) -> Path:
    """``<results>/<name>.json`` holding the figures and how they were made; returns its path."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script  # run_all passes absolute paths
    record = {"benchmark": name, "command": shlex.join(["python", str(shown), *sys.argv[1:]]), "commit": commit(),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
              "figures": figures}
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"results: {path}")
    return path


def keep_measured_run(path: Path, previous: dict[str, Any]) -> None:
    """After ``--regather``: the result at ``path`` keeps the measured run's command, commit, date and
    settings (its figures are still that run's) and names the regathering beside them."""
    record = json.loads(path.read_text())
    record["regathered"] = {key: record[key] for key in ("command", "commit", "date")}
    record.update({key: previous[key] for key in ("command", "commit", "date", "settings")})
    path.write_text(json.dumps(record, indent=1) + "\n")


def reproduction_parser(description: str, config: str) -> argparse.ArgumentParser:
    """The arguments of a benchmark that runs a reproduction: its config, output, a quick run in a
    scratch folder, or ``--regather`` (run nothing: the figures again from the finished run that the
    result file records, keeping its wall seconds), and ``--results``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=config)
    parser.add_argument("--output", type=Path, default=None, help="default: the config's output (scratch with --quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--regather", action="store_true",
                        help="run nothing: gather the figures again from the finished run that the result file records, "
                             "keeping its wall seconds (after a change to what is gathered)")
    add_results_argument(parser)
    return parser
