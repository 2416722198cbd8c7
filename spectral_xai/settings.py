"""Settings checked when a run is configured, before any work starts.

A setting is declared once, with its type and range, beside the code that uses it (a method's
``SETTINGS``, :class:`~spectral_xai.explain_settings.ExplainSettings`); a wrong value or an unknown name
is a :class:`SettingsError` whose one line names the setting, what was given and what is allowed —
the closest known name where a name was misspelt. explain.py and reproduce.py print that line and
exit 2; train.py stops before its first training step with it.
"""
from __future__ import annotations

import difflib
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml


log = logging.getLogger(__name__)

#: The environment variable naming the folder of what is made once per machine: the cached nets of
#: the tests and benchmarks, the nets exported for ONNX Runtime.
CACHE_VARIABLE = "SPECTRAL_XAI_CACHE"


def cache_dir() -> Path:
    """The cache folder, made if missing; a temporary one (with one warning) where it cannot be written."""
    wanted = Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "spectral-xai").expanduser()
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=wanted):
            pass
        return wanted
    except OSError as err:
        fallback = Path(tempfile.gettempdir()) / "spectral-xai-cache"
        log.warning("cache folder %s cannot be written (%s); using %s", wanted, err.strerror or err, fallback)
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


#: The most characters of a user's value that an error message quotes: a value can be a whole file
#: (a YAML alias expanded a million times), and the message is one line.
SHOWN_LIMIT = 200


def shown(value: Any, limit: int = SHOWN_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters with how long it was."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


#: The most characters of the one line a script prints for a user's mistake.
LINE_LIMIT = 1000


def one_line(message: Any, limit: int = LINE_LIMIT) -> str:
    """``message`` on one line, cut to ``limit`` characters: what the scripts print for a mistake."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else f"{text[:limit]}... (cut at {limit} of {len(text)} characters)"


class UserError(Exception):
    """A mistake in what the user gave (a checkpoint, a dataset, a setting): the scripts report it
    as one line and exit 2. Anything else is a bug of ours and keeps its traceback."""


class SettingsError(UserError, ValueError):
    """A setting with a wrong value, type or name."""


def closest(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'x'?`` when a known name is close to ``name``, else nothing."""
    if len(str(name)) > SHOWN_LIMIT:  # no name is that long, and difflib's time grows with its square
        return ""
    match = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def unknown_name(what: str, name: str, known: Iterable[str]) -> SettingsError:
    known = sorted(known)
    return SettingsError(f"unknown {what} {shown(name)}{closest(name, known)} (known: {', '.join(known)})")


@dataclass(frozen=True)
class Setting:
    """One setting's type and range. ``low`` / ``high`` bound a number (excluded where ``open``
    names that end: "low", "high" or "both"); ``choices`` lists the allowed values; ``layer`` marks
    the name of a module of the net, checked once a net is at hand (:func:`check_layer`)."""

    kind: type | tuple[type, ...]
    low: float | None = None
    high: float | None = None
    open: str = ""
    choices: tuple = ()
    layer: bool = False

    def check(self, owner: str, name: str, value: Any) -> Any:
        """``value`` as the setting takes it (an int given for a float becomes a float)."""
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise SettingsError(f"{owner}: {name} {shown(value)} must be {names}")
        if self.choices and value not in self.choices:
            raise SettingsError(f"{owner}: {name} {shown(value)}{closest(value, map(str, self.choices))} "
                                f"(choose from {', '.join(map(str, self.choices))})")
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingsError(f"{owner}: {name} {shown(value)} must be a finite number")
        low_open, high_open = self.open in ("low", "both"), self.open in ("high", "both")
        if self.low is not None and (value < self.low or (low_open and value == self.low)) or \
                self.high is not None and (value > self.high or (high_open and value == self.high)):
            raise SettingsError(f"{owner}: {name} {shown(value)} must be {self.describe()}")
        return value

    def describe(self) -> str:
        low = None if self.low is None else ("> " if self.open in ("low", "both") else ">= ") + f"{self.low:g}"
        high = None if self.high is None else ("< " if self.open in ("high", "both") else "<= ") + f"{self.high:g}"
        if low and high:
            return f"in {'(' if self.open in ('low', 'both') else '['}{self.low:g}, {self.high:g}" \
                   f"{')' if self.open in ('high', 'both') else ']'}"
        return low or high or "valid"

    def allowed(self) -> str:
        """What the setting takes, for docs/: ``float in (0, 1)``, ``str: a module of the net``."""
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        names = " or ".join(k.__name__ for k in kinds)
        if self.choices:
            return f"{names}: {', '.join(map(str, self.choices))}"
        if self.layer:
            return f"{names}: a module of the net"
        described = self.describe()
        return names if described == "valid" else f"{names} {described}"


def check_settings(owner: str, given: Mapping[str, Any], declared: Mapping[str, Setting]) -> dict[str, Any]:
    """Every given setting checked against its declaration; an unknown name is refused with the
    known ones and the closest."""
    if not isinstance(given, Mapping):
        raise SettingsError(f"{owner}: settings must be a mapping of names to values, not {shown(given)}")
    checked = {}
    for name, value in given.items():
        if name not in declared:
            raise SettingsError(f"{owner}: unknown setting {shown(name)}{closest(name, declared)} "
                                f"(known: {', '.join(sorted(declared)) or 'none'})")
        checked[name] = declared[name].check(owner, name, value)
    return checked


def check_layer(owner: str, net: Any, layer: str) -> None:
    """Refuse a layer name that is not a module of ``net``, naming the closest module."""
    names = [name for name, _ in net.named_modules() if name]
    if layer not in names:
        raise SettingsError(f"{owner}: layer {shown(layer)} is not a module of the net{closest(layer, names)} "
                            f"(e.g. class_net, class_net.predict, box_net)")


def name_list(value: str | Iterable[str] | None, what: str) -> list[str]:
    """A list of names however it was typed: ``a,b``, ``a b``, ``[a, b]`` or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = yaml.safe_load(text)
            except yaml.YAMLError:
                raise SettingsError(f"{what} {shown(value)}: not a list (write a,b or [a, b])") from None
            return name_list(parsed, what)
        return [part for part in text.replace(",", " ").split() if part]
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise SettingsError(f"{what} {shown(items)}: give names")
    return [name for item in items for name in name_list(item, what)]


def user_error_in(error: BaseException) -> UserError | None:
    """The user's mistake behind ``error``, if there is one: libraries that build our objects
    (jsonargparse making a callback from a config) wrap what those raise in their own errors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def check_image_size(owner: str, size: Any) -> int:
    """A square input EfficientDet can take: its anchor levels P3..P7 halve the side 7 times."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 128 or size % 128:
        raise SettingsError(f"{owner}: image_size {shown(size)} must be a positive multiple of 128 (128, 256, 512, ...: "
                            "EfficientDet's anchor levels P3..P7 halve it 7 times)")
    return size


#: The most values a YAML text may expand to through its aliases: a real config holds hundreds;
#: nine lines of nested aliases expand to millions (an "alias bomb") and would fill memory.
YAML_VALUE_LIMIT = 100_000


class YamlTooLarge(yaml.YAMLError):
    pass


def expanded_values(text: str) -> int:
    """How many values ``text`` (one YAML document) holds once every alias is expanded, counted on
    the composed graph without expanding it (an alias is the node it names, counted once per use)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # a recursive alias counts once
            children = node.value if isinstance(node, yaml.SequenceNode) else \
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else []
            sizes[id(node)] = 1 + sum(size(child) for child in children)
        return sizes[id(node)]

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    return 0 if root is None else size(root)


def bounded_yaml(load: Any) -> Any:
    """``load`` (a function of a YAML text) refusing texts whose aliases expand past
    :data:`YAML_VALUE_LIMIT` values, before anything is expanded."""

    def loaded(text: str) -> Any:
        if "*" in text and expanded_values(text) > YAML_VALUE_LIMIT:
            raise YamlTooLarge(f"its YAML aliases expand to more than {YAML_VALUE_LIMIT} values (an alias bomb?); "
                               "refused")
        return load(text)

    return loaded


def guard_yaml_configs() -> None:
    """Every YAML that jsonargparse reads (``--config`` files, values on the command line) through
    :func:`bounded_yaml`; called by each script's parser, once."""
    from jsonargparse import get_loader, set_loader

    current = get_loader("yaml")
    if not getattr(current, "bounded", False):
        loader = bounded_yaml(current)
        loader.bounded = True  # type: ignore[attr-defined]
        set_loader("yaml", loader, exceptions=(yaml.YAMLError,))


def check_writable(what: str, folder: Path, why: str = "choose a folder you can write") -> None:
    """``folder``, or the nearest folder above it that exists, writable by this user; nothing is
    made, so a run refused later leaves no folders behind. Else a one-line mistake naming ``what``."""
    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SettingsError(f"{what} {folder}: not writable ({existing} is a file, not a folder); {why}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{what} {folder}: not writable (permission denied in {existing}); {why}")
