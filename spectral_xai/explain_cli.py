"""explain.py's command line: checkpoints as positional arguments (files, globs, or a bracketed
list); every field of :class:`~spectral_xai.explain_settings.ExplainSettings` and of
:class:`~spectral_xai.posthoc.RunOptions` an option of the same name, on the command line or
in ``--config``. A user's mistake is one line on stderr and exit code 2, Ctrl-C one line and exit
code 130; anything else is a bug and keeps its traceback."""
from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import NoReturn, Sequence

import yaml
from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser

from .checkpoint import CheckpointError, resolve_checkpoint
from .explain_settings import ExplainSettings
from .explainers import list_methods
from .posthoc import RunOptions, explain_checkpoints, explain_options
from .posthoc.reanalyse import STATISTICS, reanalyse
from .settings import UserError, guard_yaml_configs, one_line

#: Options that take a list of names, typed as ``a b``, ``a,b`` or ``[a, b]``.
LIST_OPTIONS = ("--methods", "--spectra", "--targets")


class OneLineParser(ArgumentParser):
    """jsonargparse's parser, whose mistakes are one line (not the usage text) and exit 2."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message)}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> ArgumentParser:
    guard_yaml_configs()
    parser = OneLineParser(prog="explain.py", description=__doc__.split("\n\n")[0], exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file with any of the options below")
    parser.add_argument("paths", nargs="*", type=str, default=[],
                        help="checkpoint files or glob patterns (quote them), e.g. 'runs/*/checkpoints/last.ckpt', "
                             "or downloaded W&B model artifacts (their folder, or model-<run id>:v3 under ./artifacts)")
    parser.add_argument("--checkpoints", type=list[str], default=[], help="checkpoints as a list (also from --config)")
    parser.add_class_arguments(ExplainSettings, as_group=False)
    parser.add_class_arguments(RunOptions, as_group=False, skip={"sanity_check", "trust_checkpoint", "overwrite"})
    parser.add_argument("--sanity_check", action=ActionYesNo, default=False,
                        help="also run the model-parameter randomisation test (sanity.csv, sanity/)")
    parser.add_argument("--trust_checkpoint", action=ActionYesNo, default=False,
                        help="load checkpoints that reading them as data refuses; this runs any code stored in them")
    parser.add_argument("--overwrite", action=ActionYesNo, default=False,
                        help="replace an output folder that holds files no earlier explain.py run wrote (they are "
                             "deleted); without it such a folder is refused, naming the file")
    parser.add_argument("--reanalyse", type=str | None, default=None,
                        help="a finished run's folder: recompute its comparisons and verdicts into --output from its "
                             "boxes.csv, without a net, with any statistics setting given here changed")
    parser.add_argument("--list_methods", action=ActionYesNo, default=False,
                        help="print every saliency method (name, what it shows, model evaluations per box) and exit")
    return parser


def methods_text() -> str:
    """``--list_methods``: one block per method, its cost at the default settings."""
    return "\n".join(f"{m.name:<17} {m.explains}\n{'':<17} cost per box: {m.cost}" for m in list_methods())


def joined_lists(argv: Sequence[str], options: Sequence[str] = LIST_OPTIONS) -> list[str]:
    """``argv`` with every list option's values joined into one ``a,b`` argument, however they
    were typed: ``--methods gradcam rise``, ``--methods gradcam,rise``, ``--methods '[gradcam,
    rise]'``. The values of a list end at the next option or at a path (a word with ``/``, ``.`` or
    a glob character), so a checkpoint may follow them."""
    out, argv = [], list(argv)
    index = 0
    while index < len(argv):
        word = argv[index]
        name, has_value, value = word.partition("=")
        if name not in options:
            out.append(word)
            index += 1
            continue
        values = [value] if has_value else []
        index += 1
        while not has_value and index < len(argv) and not argv[index].startswith("--") and not _is_path(argv[index]):
            values.append(argv[index])
            index += 1
        names = [n for v in values for n in (yaml.safe_load(v) if v.strip().startswith("[") else [v])]
        out += [name, ",".join(str(n).strip() for n in names)]
    return out


def _is_path(word: str) -> bool:
    """A checkpoint, folder, glob or W&B artifact reference (``model-1a2b:v3``), never a method name."""
    return any(c in word for c in "/.*?:") and not word.strip().startswith("[")


def expand_checkpoints(items: Sequence[str]) -> list[Path]:
    """Files as given, folders and W&B artifact references resolved to their checkpoint file
    (:func:`~spectral_xai.checkpoint.resolve_checkpoint`), glob patterns expanded (sorted), ``[a,
    b]`` read as a list; order kept, duplicates dropped. A pattern that matches nothing is an
    error naming it."""
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
            paths.append(resolve_checkpoint(text))
    return list(dict.fromkeys(paths))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return interrupted("explain.py")


def interrupted(script: str) -> int:
    """Ctrl-C: one line, exit 130 (128 + SIGINT), as a shell reports it."""
    print(f"{script}: interrupted; an unfinished run writes nothing to its output", file=sys.stderr)
    return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(joined_lists(sys.argv[1:] if argv is None else argv))
    except yaml.YAMLError as err:
        print(f"explain.py: error: a list option is not a list ({one_line(err)})", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help, or a mistake the parser reported in one line
        return done.code
    if args.list_methods:
        print(methods_text())
        return 0
    options = {k: v for k, v in vars(parser.instantiate_classes(args)).items()
               if k not in ("config", "paths", "checkpoints", "list_methods", "reanalyse", "__path__")}
    try:
        if args.reanalyse:
            given = {word.split("=")[0].lstrip("-") for word in (sys.argv[1:] if argv is None else argv)}
            folder = reanalyse(args.reanalyse, options["output"], {k: options[k] for k in STATISTICS if k in given},
                               options["overwrite"])
            print(f"wrote {folder / 'report.html'}")
            return 0
        checkpoints = expand_checkpoints([*args.paths, *args.checkpoints])
        if not checkpoints:
            raise CheckpointError("no checkpoint given: name one or more .ckpt files (or a glob) as arguments")
        folder = explain_checkpoints(checkpoints, *explain_options(options))
    except UserError as err:
        print(f"explain.py: error: {one_line(err)}", file=sys.stderr)
        return 2
    print(f"wrote {folder / 'report.html'}")
    return 0
