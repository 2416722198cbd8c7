"""The output folder of an explain.py run, which never loses a file that is not ours.

A run's files go to a scratch folder beside the output; ``manifest.json``, written last, lists
every one with its SHA-256. Publishing is one rename of that complete folder into place (the
previous run's folder, which held only what its manifest lists, is renamed aside first and then
removed), under a lock beside the output, so a kill, a crash or a second run on the same output
never leaves a mixed set of files. A folder that holds a file no manifest lists, or a listed file
changed since, is refused before any work starts, naming the file (``overwrite`` replaces it
anyway). A dead run's scratch folder is cleaned up, or restored, by the next run.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Callable

from ..settings import UserError, shown

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
WRITER = "spectral-xai"


class OutputError(UserError, OSError):
    """An output folder that cannot be written, or that holds files a run of ours did not write."""


@dataclass
class ClaimedOutput:
    """An output folder this process holds the lock of until :func:`publish` has run."""

    path: Path
    overwrite: bool
    lock_path: Path
    lock_fd: int

    def release(self) -> None:
        """Unlinked while still held, so that no other run can lock a file that is gone."""
        if self.lock_fd >= 0:
            self.lock_path.unlink(missing_ok=True)
            os.close(self.lock_fd)
            self.lock_fd = -1


def claim(output: str | Path, overwrite: bool = False) -> ClaimedOutput:
    """Check before any work that ``output`` can be written and holds nothing but an earlier run's
    files, and lock it against a second run; a dead run's leftovers are restored or removed."""
    output = Path(output).absolute()
    lock_path = output.parent / f".{output.name}.lock"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd = _locked(lock_path)
    except BlockingIOError:
        raise OutputError(f"{output}: another run is writing this output now; wait for it to end or choose "
                          f"another --output") from None
    except OSError as err:
        raise OutputError(f"{output}: cannot be written ({err.strerror or err} in {output.parent}); choose an "
                          f"--output in a folder you can write") from None
    claimed = ClaimedOutput(output, overwrite, lock_path, fd)
    try:
        _recover(output)
        _check_ours(output, overwrite)
    except BaseException:
        claimed.release()
        raise
    return claimed


def _locked(path: Path) -> int:
    """An exclusive lock on ``path`` (created), not waiting; retried when the file locked was
    unlinked by the run that released it meanwhile."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def publish(claimed: ClaimedOutput, write: Callable[[Path], None]) -> Path:
    """``write(folder)`` into a scratch folder, its manifest after it, then that folder in the
    output's place; the lock is released whatever happens."""
    output = claimed.path
    scratch = output.parent / f".{output.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        try:
            scratch.mkdir()
        except OSError as err:
            raise OutputError(f"{output}: cannot be written ({err.strerror or err} in {output.parent})") from None
        try:
            write(scratch)
            write_manifest(scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        try:
            _check_ours(output, claimed.overwrite)
        except OutputError as err:  # files appeared while the run went on: keep both, lose nothing
            kept = output.parent / f"{output.name}.new-{scratch.name.rsplit('-', 1)[1]}"
            scratch.rename(kept)
            raise OutputError(f"{err}; this run's finished output is kept in {kept}") from None
        _swap(scratch, output)
    finally:
        claimed.release()
    return output


def write_manifest(folder: Path) -> None:
    files = {path.relative_to(folder).as_posix(): _digest(path) for path in sorted(_files(folder))}
    record = {"written_by": WRITER, "version": version("spectral-xai"), "files": files}
    (folder / MANIFEST).write_text(json.dumps(record, indent=1))


def listed_files(folder: Path) -> dict[str, str] | None:
    """The files (relative path -> SHA-256) a manifest of ours in ``folder`` lists; None without one."""
    try:
        record = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("written_by") != WRITER or not isinstance(record.get("files"), dict):
        return None
    return record["files"]


def foreign_files(folder: Path) -> list[str]:
    """Files in ``folder`` that no manifest of ours lists, or that changed since it was written."""
    if not folder.is_dir():
        return []
    listed = listed_files(folder)
    known = {} if listed is None else {**listed, MANIFEST: None}
    found = []
    for path in sorted(_files(folder)):
        name = path.relative_to(folder).as_posix()
        if name not in known or (known[name] is not None and _digest(path) != known[name]):
            found.append(name)
    return found


def _check_ours(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: the output path exists and is not a folder")
    foreign = foreign_files(output)
    if not foreign:
        return
    if overwrite:
        log.warning("%s: --overwrite: replacing %d file(s) no earlier run of ours wrote, e.g. %s", output,
                    len(foreign), shown(foreign[0]))
        return
    more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
    raise OutputError(f"{output}: holds {shown(foreign[0])}{more}, which no earlier explain.py run wrote (or which "
                      f"changed since); move it, choose another --output, or pass --overwrite to replace the folder")


def _swap(scratch: Path, output: Path) -> None:
    if not output.exists():
        scratch.rename(output)
        return
    aside = output.parent / f".{output.name}.replaced-{scratch.name.rsplit('-', 1)[1]}"
    output.rename(aside)
    scratch.rename(output)
    shutil.rmtree(aside, ignore_errors=True)


def _recover(output: Path) -> None:
    """A run killed between its two renames left the output missing: its new folder (complete,
    with its manifest) or else the previous one takes the output's place; other leftovers of dead
    runs (unfinished scratch folders, a replaced folder) are removed. Called under the lock, so no
    live run owns them."""
    partial = sorted(output.parent.glob(f".{output.name}.partial-*"))
    replaced = sorted(output.parent.glob(f".{output.name}.replaced-*"))
    if not output.exists():
        complete = [p for p in partial if listed_files(p) is not None] or replaced
        if complete:
            complete[-1].rename(output)
            log.warning("%s: restored the output of a run that was stopped while publishing it", output)
    for leftover in [*partial, *replaced]:
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)
            log.warning("%s: removed %s, left by a run that did not finish", output, leftover.name)


def _files(folder: Path):
    return (p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _digest(path: Path) -> str:
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
