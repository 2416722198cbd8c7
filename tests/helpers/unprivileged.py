"""Running one of the repository's scripts as a user without root's rights, for the cases that only
such a user meets (an output or log folder it cannot write). Where the tests run as root, the
script's imports are loaded first (the interpreter may live under /root, which other users cannot
read), then the process drops to ``nobody`` for good and runs the script's main: a real process of a
real unprivileged uid, whose exit code and stderr are the script's own."""
from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from .training import REPO

# Run as `python -c PRELUDE script args...`: import the script as a module (its main guarded by
# __name__), drop to the uid, then run it as __main__ with its imports already loaded.
PRELUDE = """
import os, runpy, sys
script, uid = sys.argv[1], int(os.environ.pop("RUN_AS_UID", "-1"))
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(script))
runpy.run_path(script, run_name="loading")
import spectral_xai.posthoc.output, spectral_xai.train_cli, spectral_xai.explain_cli, spectral_xai.loggers
import spectral_xai.callbacks, tempfile, fcntl, uuid, hashlib
with open(script) as source:  # the checkout may be one that only root can read (a 0700 temporary folder)
    code = compile(source.read(), script, "exec")
if uid >= 0:
    # what the imports left in the run's own temporary folder (W&B's staging) becomes the user's
    for folder, names, files in os.walk(os.environ["TMPDIR"]):
        for name in [folder, *(os.path.join(folder, n) for n in names + files)]:
            os.lchown(name, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
exec(code, {"__name__": "__main__", "__file__": script})
"""


def unprivileged_uid() -> int:
    """The uid to drop to: ``nobody``'s; the test is skipped where there is none."""
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user 'nobody' to run as")


def shared_folder(tmp_path: Path) -> Path:
    """A folder under ``tmp_path`` that every user can enter and write (pytest's base is 0700)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    for path in (folder, *folder.parents):
        if path == Path(tmp_path.anchor) or str(path) == "/tmp":
            break
        path.chmod(path.stat().st_mode | 0o711)
    folder.chmod(0o777)
    return folder


def read_only_folder(parent: Path) -> Path:
    """A folder the unprivileged user can enter and read but not write."""
    folder = parent / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def run_unprivileged(script: str, args: list[str], cwd: Path, home: Path, timeout: int = 600
                     ) -> subprocess.CompletedProcess:
    """``script`` with ``args`` as an unprivileged user (``nobody`` where this runs as root, else
    this user): exit code and output as a user would see them."""
    uid = unprivileged_uid() if os.geteuid() == 0 else -1
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO),
           "HOME": str(home), "MPLCONFIGDIR": str(home / ".mpl"), "TMPDIR": str(home), "WANDB_DIR": str(home),
           "RUN_AS_UID": str(uid)}
    return subprocess.run([sys.executable, "-c", PRELUDE, str(REPO / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
