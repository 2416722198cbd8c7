"""The package's layers, from the bottom: settings.py (declared settings, the user-error family)
imports nothing of the package and serves all; detection/; explainers/ and metrics/, which never
import each other; results.py (the typed results); analysis/ (statistics on results); reporting/
(files, tables, figures and logs of results and analyses). Nothing imports upward."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "spectral_xai"


BELOW_RESULTS = {"detection", "explainers", "metrics"}
BELOW_ANALYSIS = {*BELOW_RESULTS, "results", "data_modules"}


def imported_packages(folder: Path) -> set[str]:
    """The spectral_xai subpackages or modules that files in ``folder`` (or the module ``folder``)
    import (relative imports resolved)."""
    found = set()
    for path in ([folder] if folder.suffix == ".py" else folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == (1 if path.parent == PACKAGE else 2) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spectral_xai."):
                found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("layer, allowed", [("detection", set()), ("explainers", {"detection"}),
                                            ("metrics", {"detection"}), ("results.py", BELOW_RESULTS),
                                            ("analysis", BELOW_ANALYSIS), ("reporting", {*BELOW_ANALYSIS, "analysis"})])
def test_layers_import_only_what_is_below_them(layer, allowed):
    assert imported_packages(PACKAGE / layer) <= allowed | {"settings"}


def test_the_package_keeps_its_modules_in_rooms():
    """A top level of at most 18 modules: the rest live in the folder of their layer."""
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 18, top


def test_settings_stand_below_every_layer():
    tree = ast.parse((PACKAGE / "settings.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.level or "spectral_xai" in (n.module or ""))]


def test_every_module_is_under_300_lines_and_every_function_under_60():
    """Rooms of one job: a module that outgrows 300 lines, or a function 60, is doing several."""
    long_files, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 300:
            long_files.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long_functions.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: "
                                      f"{node.end_lineno - node.lineno + 1} lines")
    assert not long_files and not long_functions, long_files + long_functions
