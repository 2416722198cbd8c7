"""Running explain.py as a user does, and reading the tables it writes."""
from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from .training import REPO, run_script


def explain_py(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return run_script("explain.py", list(args), cwd)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
