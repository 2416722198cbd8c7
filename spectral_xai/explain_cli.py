"""explain.py's command line: checkpoints as positional arguments (files, globs, or a bracketed
list), every other argument of :func:`~spectral_xai.posthoc.explain_checkpoints` as an option or
from ``--config``. A user's mistake is one line on stderr and exit code 2, never a traceback."""
from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Sequence

import yaml
from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser

from .checkpoint import CheckpointError
from .data_modules.reader import DatasetError
from .posthoc import explain_checkpoints

USER_ERRORS = (CheckpointError, DatasetError, FileExistsError, KeyError, ValueError)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="explain.py", description=__doc__.split("\n\n")[0], exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file with any of the options below")
    parser.add_argument("paths", nargs="*", type=str, default=[],
                        help="checkpoint files or glob patterns (quote them), e.g. 'runs/*/checkpoints/last.ckpt'")
    parser.add_argument("--checkpoints", type=list[str], default=[], help="checkpoints as a list (also from --config)")
    parser.add_function_arguments(explain_checkpoints, skip={"checkpoints", "sanity_check"})
    parser.add_argument("--sanity_check", action=ActionYesNo, default=False,
                        help="also run the model-parameter randomisation test (sanity.csv, sanity/)")
    return parser


def expand_checkpoints(items: Sequence[str]) -> list[Path]:
    """Files as given, glob patterns expanded (sorted), ``[a, b]`` read as a list; order kept,
    duplicates dropped. A pattern that matches nothing is an error naming it."""
    paths: list[Path] = []
    for item in items:
        text = item.strip()
        if text.startswith("[") and text.endswith("]"):
            paths += expand_checkpoints([str(x) for x in yaml.safe_load(text) or []])
        elif glob.has_magic(text) and not Path(text).exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise CheckpointError(f"{text}: no checkpoint matches this pattern")
            paths += map(Path, matches)
        else:
            paths.append(Path(text))
    return list(dict.fromkeys(paths))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(parser.instantiate_classes(args)).items()
               if k not in ("config", "paths", "checkpoints", "__path__")}
    try:
        checkpoints = expand_checkpoints([*args.paths, *args.checkpoints])
        if not checkpoints:
            raise CheckpointError("no checkpoint given: name one or more .ckpt files (or a glob) as arguments")
        folder = explain_checkpoints(checkpoints, **options)
    except USER_ERRORS as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"explain.py: error: {message}", file=sys.stderr)
        return 2
    print(f"wrote {folder / 'report.html'}")
    return 0
