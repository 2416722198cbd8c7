"""Which frames belong together. The real dataset's ids are frames at one per second: neighbours
are nearly the same picture, so a run of consecutive frames, not a frame, is what is independent.
It is the unit of a ``blocked`` split (a run kept whole in one part, so that no near copy of a test
frame is trained on) and of the statistics (``unit: sequence``: a run's boxes are averaged first)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .layout import DatasetError


@dataclass(frozen=True)
class Sequences:
    """How ids form runs: from ``file`` (a ``sequences.csv`` of ``sample_id,sequence`` rows), else
    numeric ids in order, a new run wherever the next id is more than ``gap`` after the last, each
    run cut into blocks of at most ``length`` frames where ``length`` is given."""

    length: int | None = None
    gap: int = 1
    file: str | None = None

    def __post_init__(self) -> None:
        if self.length is not None and self.length < 1:
            raise ValueError(f"sequence length {self.length}: give at least 1 frame a run")
        if self.gap < 1:
            raise ValueError(f"sequence gap {self.gap}: consecutive ids are 1 apart, give at least 1")

    def of(self, sample_ids: Iterable[str]) -> dict[str, str]:
        """Each id's run, named by its first id."""
        ids = sorted(set(sample_ids))
        if self.file is not None:
            return self._read(ids)
        numbers = {}
        for sample_id in ids:
            if not sample_id.isdigit():
                raise DatasetError(f"sample id {sample_id!r} is not a frame number: runs of frames are found from "
                                   "numeric ids; give a sequences.csv (sample_id,sequence) instead")
            numbers[sample_id] = int(sample_id)
        runs: dict[str, str] = {}
        first, last, frames = None, None, 0
        for sample_id in sorted(ids, key=numbers.__getitem__):
            number = numbers[sample_id]
            if last is None or number - last > self.gap or (self.length is not None and frames >= self.length):
                first, frames = sample_id, 0
            runs[sample_id], last, frames = first, number, frames + 1
        return runs

    def _read(self, ids: list[str]) -> dict[str, str]:
        path = Path(self.file)
        try:
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as error:
            raise DatasetError(f"{path}: cannot read the sequences file ({error})") from error
        if rows and not {"sample_id", "sequence"} <= set(rows[0]):
            raise DatasetError(f"{path}: needs the columns sample_id and sequence, found {', '.join(rows[0])}")
        given = {row["sample_id"].strip(): row["sequence"].strip() for row in rows}
        missing = [i for i in ids if i not in given]
        if missing:
            raise DatasetError(f"{path}: {len(missing)} id(s) have no sequence, e.g. {', '.join(missing[:5])}")
        return {i: given[i] for i in ids}

    def describe(self) -> str:
        if self.file is not None:
            return f"runs from {self.file}"
        return (f"runs of consecutive frame ids (a gap over {self.gap} starts a new one"
                + (f", at most {self.length} frames" if self.length else "") + ")")
