"""The reference tables of docs/, rendered from the code they describe, so that they cannot drift
from it: every method with what it shows and what a box costs (the registry), every metric
(its registry), every explanation
setting with its default and meaning (:class:`~spectral_xai.explain_settings.ExplainSettings`), explain.py's
other options (:class:`~spectral_xai.posthoc.RunOptions`), every
method's own settings with their types, ranges and defaults (each method's ``SETTINGS``).
``benchmarks/readme_tables.py`` writes them into docs/, and a test checks that docs/ holds them."""
from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from typing import Any

from .explain_settings import ExplainSettings
from .explainers import REGISTRY, create, list_methods
from .metrics import METRICS
from .posthoc import RunOptions


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows])


def value_text(value: Any) -> str:
    """A default as a user types it in YAML: ``[gradcam, rise]``, ``true``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(value_text, value)) + "]"
    return str(value)


def methods_table() -> str:
    rows = [[f"`{m.name}`", m.explains, m.cost, create(m.name).describe() or "none"] for m in list_methods()]
    return markdown_table(["method", "explains", "cost per box", "settings at their defaults"], rows)


def metrics_table() -> str:
    """Every registered metric: what it judges the map against, which way is better, how it is used."""
    def role(metric) -> str:
        if metric.variant_of:
            return f"a check of `{metric.variant_of}`"
        return "compared (primary family)" if metric.primary else "reported"

    judges = {"detector": "the detector's score on altered images", "annotations": "the annotated boxes",
              "known_causes": "the known causes (rendered data)"}
    rows = [[f"`{m.name}`", m.label, judges[m.judges], m.direction, role(m),
             f"`{m.switch}`" if m.switch else "always"] for m in METRICS.values()]
    return markdown_table(["metric", "what it is", "judges the map by", "direction", "role", "scored"], rows)


def setting_docs(documented: Any) -> dict[str, str]:
    """Each argument's text from the ``Args:`` section of a class's or function's docstring, on one line."""
    args = textwrap.dedent(inspect.getdoc(documented).split("Args:\n", 1)[1])
    entries = re.split(r"\n(?=\S)", args)  # an entry starts unindented; its continuation lines are indented
    return {name: markdown(" ".join(text.split())) for name, _, text in (entry.partition(":") for entry in entries)}


def markdown(text: str) -> str:
    """reStructuredText's inline code and cross-references as markdown code."""
    return re.sub(r":\w+:`~?([\w.]+)`", r"`\1`", text).replace("``", "`")


def fields_table(documented: type, first: str) -> str:
    """A dataclass's fields with their defaults and the text its docstring gives each."""
    docs = setting_docs(documented)
    rows = [[f"`{f.name}`", f"`{value_text(f.default)}`", docs[f.name]] for f in dataclasses.fields(documented)]
    return markdown_table([first, "default", "what it sets"], rows)


def settings_table() -> str:
    return fields_table(ExplainSettings, "setting")


def run_options_table() -> str:
    """explain.py's options beside the settings."""
    return fields_table(RunOptions, "option")


def method_settings_table() -> str:
    rows = []
    for name in sorted(REGISTRY):
        cls, fixed, _ = REGISTRY[name]
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
        for key, setting in cls.SETTINGS.items():
            if key not in fixed:
                rows.append([f"`{name}`", f"`{key}`", setting.allowed(), f"`{value_text(defaults.get(key))}`"])
    return markdown_table(["method", "setting", "type and range", "default"], rows)


#: block name in docs/ -> its renderer.
TABLES = {"methods": methods_table, "metrics": metrics_table, "settings": settings_table, "run_options": run_options_table,
          "method_settings": method_settings_table}
