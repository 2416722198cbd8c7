"""How far each threshold that depends on a trained net lies from the values the net reaches, over
training seeds: the tests that assert such thresholds run once per seed of the shared nets
(``SPECTRAL_XAI_NET_SEED``; each seed's nets come from the cache of trained nets, trained into it the
first time, about a minute each), and every value they record is printed beside its threshold.

    python benchmarks/net_margins.py                 # seeds 0-4, about 25 minutes on 2 cores with a cold cache
    python benchmarks/net_margins.py --seeds 0 1

A threshold that holds on fewer seeds than were run is one to move, with the reason, or a test to
make stronger. The result goes to ``runs/net_margins.json`` (``--output``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = ["tests/explainers/test_against_random.py", "tests/explainers/test_trained_detector.py", "tests/test_sanity.py",
         "tests/explainers/test_cam_family.py", "tests/explainers/test_references.py", "tests/analysis/test_complementarity.py",
         "tests/test_cue_control.py"]
PREFIX = "margin: "


def margins_of_seed(seed: int) -> dict[str, dict]:
    """``{threshold name: {value, op, threshold}}`` recorded by the tests run on the nets of ``seed``."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.xml"
        env = {**os.environ, "SPECTRAL_XAI_NET_SEED": str(seed)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                               *TESTS], cwd=REPO, env=env, capture_output=True, text=True)
        if not report.is_file():
            raise SystemExit(f"seed {seed}: pytest wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}")
        found = {}
        for prop in ET.parse(report).iter("property"):
            if prop.get("name", "").startswith(PREFIX):
                found[prop.get("name")[len(PREFIX):]] = json.loads(prop.get("value"))
        return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "net_margins.json")
    args = parser.parse_args(argv)
    by_seed = {}
    for seed in args.seeds:
        by_seed[seed] = margins_of_seed(seed)
        print(f"seed {seed}: {len(by_seed[seed])} thresholds recorded", flush=True)
    names = sorted({name for found in by_seed.values() for name in found})
    rows = []
    for name in names:
        records = {seed: found.get(name) for seed, found in by_seed.items()}
        some = next(r for r in records.values() if r)
        values = {seed: None if r is None else r["value"] for seed, r in records.items()}
        holds = sum(r is not None and _holds(r) for r in records.values())
        rows.append({"threshold": name, "op": some["op"], "bound": some["threshold"], "values": values,
                     "holds": f"{holds}/{len(records)}"})
        shown = " ".join("-" if v is None else f"{v:.3g}" for v in values.values())
        print(f"{name}  {some['op']} {some['threshold']}:  {shown}  holds {holds}/{len(records)}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"seeds": args.seeds, "thresholds": rows}, indent=1) + "\n")
    print(f"results: {args.output}")


def _holds(record: dict) -> bool:
    value, bound = record["value"], record["threshold"]
    return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}[record["op"]]


if __name__ == "__main__":
    main()
