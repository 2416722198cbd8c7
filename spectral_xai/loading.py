"""Ctrl-C while a script's libraries load.

A KeyboardInterrupt raised inside an extension module's import (torch's and OpenCV's go through
pybind11) cannot unwind through C++: the process aborts with SIGABRT and a C++ message instead of
one line and exit 130. Nothing has been written while the libraries load, so the handler leaves at
once, without raising."""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def interruptible_loading(line: str) -> Iterator[None]:
    """Within the block, Ctrl-C prints ``line`` on stderr and exits 130; after it, Ctrl-C raises
    KeyboardInterrupt again, for the script's own handling."""
    def leave(signum: int, frame: object) -> None:
        os.write(2, f"{line}\n".encode())
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
