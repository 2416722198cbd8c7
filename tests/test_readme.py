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


def readme_explain_command(option: str) -> list[str]:
    """The arguments of README's explain.py command that uses ``option``."""
    text = (REPO / "README.md").read_text()
    (block,) = re.findall(r"<!-- explain commands -->\n```bash\n(.*?)```\n<!-- /explain commands -->", text, re.S)
    (line,) = [line for line in block.splitlines() if option in line.split()]
    words = line.split("#")[0].split()
    assert words[:2] == ["python", "explain.py"], line
    return words[2:]


@pytest.mark.slow
def test_the_readme_folder_of_images_command_runs_on_a_trained_net(trained_checkpoint, synthetic_root, tmp_path,
                                                                   monkeypatch):
    """Two frames of other sizes and formats in a folder, explained with the command as README gives
    it (its default methods and settings): every method on each frame's top detection."""
    from spectral_xai.explain_cli import main
    from .helpers.outputs import read_rows

    args = readme_explain_command("--images")
    assert args[0] == "runs/demo/checkpoints/last.ckpt" and args[args.index("--images") + 1] == "night_frames/"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "night_frames").mkdir()
    for png, (name, size) in zip(sorted((synthetic_root / "ConvertedImages" / "mir").glob("*.png")),
                                 [("frame_1.jpg", (200, 150)), ("frame_2.bmp", (96, 96))]):
        Image.open(png).convert("RGB").resize(size).save(tmp_path / "night_frames" / name)
    assert main([str(trained_checkpoint), *args[1:]]) == 0
    rows = read_rows(tmp_path / args[args.index("--output") + 1] / "boxes.csv")
    assert {row["sample_id"] for row in rows} <= {"frame_1", "frame_2"} and rows
    assert {row["method"] for row in rows} == {"gradcam", "rise", "sidu", "random", "box"}
    assert {row["judged_against"] for row in rows} == {"detection"}


def test_the_top_level_exports_what_a_notebook_needs():
    from spectral_xai.api import explain
    from spectral_xai.checkpoint import load_checkpoint
    from spectral_xai.explain_settings import ExplainSettings
    from spectral_xai.explaining import Explainer
    from spectral_xai.explainers import list_methods

    assert (spectral_xai.explain, spectral_xai.list_methods, spectral_xai.load_checkpoint, spectral_xai.Explainer,
            spectral_xai.ExplainSettings) == (explain, list_methods, load_checkpoint, Explainer, ExplainSettings)
    assert set(dir(spectral_xai)) == set(spectral_xai.EXPORTS)
    with pytest.raises(AttributeError, match="no attribute 'explainer'"):
        spectral_xai.explainer
