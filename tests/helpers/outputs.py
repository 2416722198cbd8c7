"""Running explain.py as a user does, and reading the tables it writes."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from .training import REPO


def explain_py(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "explain.py"), *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
