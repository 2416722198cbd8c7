"""README's Python example runs as written, on the shared trained net; the package's top level
exports what it uses."""
import contextlib
import io
import re

import pytest
from PIL import Image

import spectral_xai

from .helpers.training import REPO


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    (code,) = re.findall(r"<!-- python example -->\n```python\n(.*?)```\n<!-- /python example -->", text, re.S)
    return code


@pytest.mark.slow
def test_the_readme_python_example_runs_on_a_trained_net(trained_checkpoint, tmp_path, monkeypatch):
    code = readme_example()
    assert '"runs/demo/checkpoints/last.ckpt"' in code
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code.replace('"runs/demo/checkpoints/last.ckpt"', repr(str(trained_checkpoint))), {})
    assert Image.open(tmp_path / "explained.png").size[0] > 500
    lines = printed.getvalue().splitlines()
    # gradcam and rise, then the two baselines, on the image's top detection
    assert [line.split()[0] for line in lines] == ["gradcam", "rise", "random", "box"], lines
    assert all(re.fullmatch(r"\w+ score 0\.\d\d deletion AUC \d\.\d{3}", line) for line in lines), lines


def test_the_top_level_exports_what_a_notebook_needs():
    from spectral_xai.api import explain
    from spectral_xai.checkpoint import load_checkpoint
    from spectral_xai.explain_settings import ExplainSettings
    from spectral_xai.evaluation import Explainer
    from spectral_xai.explainers import list_methods

    assert (spectral_xai.explain, spectral_xai.list_methods, spectral_xai.load_checkpoint, spectral_xai.Explainer,
            spectral_xai.ExplainSettings) == (explain, list_methods, load_checkpoint, Explainer, ExplainSettings)
    assert set(dir(spectral_xai)) == set(spectral_xai.EXPORTS)
    with pytest.raises(AttributeError, match="no attribute 'explainer'"):
        spectral_xai.explainer
