"""Reading a result file under benchmarks/results/ for a table: the record, the line that says where
its figures come from, and a figure's spread."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_all import JOBS  # noqa: E402

from spectral_xai.docs_tables import markdown_table  # noqa: E402
RESULTS = HERE / "results"

table = markdown_table


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def source(record: dict) -> str:
    machine = record["machine"]
    commit = record["commit"][:10] + ("+changes" if record["commit"].endswith("+changes") else "")
    return (f"<sub>`benchmarks/results/{record['benchmark']}.json`: `{record['command']}` at {commit}, "
            f"{record['date'][:10]}, {machine['device']}, {machine['cpu_cores']} cores, {machine['torch_threads']} torch threads"
            + (" (all of them: `python benchmarks/run_all.py`)" if record["benchmark"] in JOBS else "")
            + (f"; figures gathered again by `{record['regathered']['command']}` at {record['regathered']['commit'][:10]}"
               if "regathered" in record else "") + "</sub>")


def spread(figure: dict, digits: int = 2) -> str:
    return f"{figure['min']:.{digits}f} / {figure['median']:.{digits}f} / {figure['max']:.{digits}f}"
