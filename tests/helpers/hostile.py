"""What a hostile checkpoint holds."""
from __future__ import annotations

import os


class RunsCode:
    """Unpickling it calls ``os.system`` with ``command``: a checkpoint loader that runs it has
    run the file's code."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)
