"""What a user's mistakes, faults and misuses of explain.py and train.py end in, run as the user runs
them (the scripts as subprocesses for exit codes and messages): one line and exit 2 (130 for
Ctrl-C), before any work, never a traceback, never a deleted user file or a mixed output folder."""
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from spectral_xai.posthoc.output import MANIFEST

from .helpers.outputs import explain_py, read_rows
from .helpers.training import REPO, run_cli, train_py
from .helpers.unprivileged import read_only_folder, run_unprivileged, shared_folder

FAST = ["--methods", "gradcam", "--num_images", "1", "--step", "0.5", "--target_min_score", "0.0", "--scene_grids", "1"]
TRAIN = ["fit", "--config", str(REPO / "configs" / "demo.yaml"), "--trainer.max_epochs", "1", "--trainer.limit_train_batches",
         "1", "--trainer.limit_val_batches", "1", "--trainer.logger", "false", "--trainer.callbacks", "[]",
         "--data.num_workers", "0"]


def _one_line(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The run's last stderr line, having checked its exit code, that no traceback came, and the words."""
    assert result.returncode == code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert all(word in last for word in words), last
    return last


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_users_own_files_in_the_output_are_never_deleted_and_overwrite_replaces_them(trained_checkpoint, tmp_path):
    out = tmp_path / "out"
    (out / "plots").mkdir(parents=True)
    (out / "scenes").mkdir()
    (out / "plots" / "notes.txt").write_text("my notes")
    (out / "scenes" / "mine.png").write_bytes(b"my own plot")
    refused = explain_py(str(trained_checkpoint), "--output", str(out), *FAST)
    _one_line(refused, 2, "holds 'plots/notes.txt' and 1 more", "--overwrite")
    assert (out / "plots" / "notes.txt").read_text() == "my notes" and sorted(_files(out)) == ["plots/notes.txt",
                                                                                             "scenes/mine.png"]
    replaced = explain_py(str(trained_checkpoint), "--output", str(out), *FAST, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert not (out / "plots" / "notes.txt").exists() and (out / MANIFEST).is_file() and (out / "boxes.csv").is_file()


def test_a_second_run_into_an_output_leaves_nothing_of_the_first_that_it_did_not_write(trained_checkpoint, tmp_path):
    out = tmp_path / "out"
    first = explain_py(str(trained_checkpoint), "--output", str(out), *FAST, "--sanity_check", "--sanity_images", "1")
    assert first.returncode == 0 and (out / "sanity.csv").is_file() and (out / "sanity").is_dir(), first.stderr[-3000:]
    second = explain_py(str(trained_checkpoint), "--output", str(out), *FAST)
    assert second.returncode == 0, second.stderr[-3000:]
    assert not (out / "sanity.csv").exists() and not (out / "sanity").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch folder, no lock


def test_an_output_the_user_cannot_write_is_refused_before_anything_is_explained(trained_checkpoint, tmp_path):
    """As an unprivileged user (nobody, where the suite runs as root): one line and exit 2 at once,
    not a PermissionError after every image was explained."""
    shared = shared_folder(tmp_path)
    checkpoint = Path(shutil.copy(trained_checkpoint, shared / "net.ckpt"))
    checkpoint.chmod(0o644)
    home = shared / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    result = run_unprivileged("explain.py", [str(checkpoint), "--output", str(read_only_folder(shared) / "out"), *FAST],
                              cwd=shared, home=home)
    _one_line(result, 2, "read_only/out: cannot be written", "Permission denied")
    assert "image/s" not in result.stderr  # refused before the first image


def test_train_py_refuses_a_log_folder_it_cannot_write_before_anything_is_built(synthetic_root, tmp_path):
    shared = shared_folder(tmp_path)
    home = shared / "home"
    home.mkdir()
    home.chmod(0o777)
    config = Path(shutil.copy(REPO / "configs" / "demo.yaml", shared / "demo.yaml"))
    config.chmod(0o644)
    read_only = read_only_folder(shared)
    args = [*TRAIN[:2], str(config), *TRAIN[3:], "--data.root", str(synthetic_root),
            "--trainer.default_root_dir", str(read_only / "run"), "--checkpoint.dirpath", str(read_only / "run" / "ckpt")]
    result = run_unprivileged("train.py", args, cwd=shared, home=home)
    _one_line(result, 2, "trainer.default_root_dir", "not writable (permission denied")


def _changed_checkpoint(source: Path, target: Path, model: dict | None = None, weights=None) -> Path:
    saved = torch.load(source, weights_only=True)
    if model:
        saved["hyper_parameters"] = {**saved["hyper_parameters"], **model}
        saved["datamodule_hyper_parameters"] = {**saved["datamodule_hyper_parameters"],
                                                **{k: v for k, v in model.items() if k in ("class_names", "image_size")}}
    if weights:
        saved["state_dict"] = weights(dict(saved["state_dict"]))
    torch.save(saved, target)
    return target


def _nan_in_the_stem(state: dict) -> dict:
    name = next(k for k in state if k.endswith("conv_stem.weight"))
    return {**state, name: torch.full_like(state[name], float("nan"))}


def test_checkpoints_that_disagree_with_themselves_are_one_line_naming_the_file(trained_checkpoint, tmp_path):
    classes = list(torch.load(trained_checkpoint, weights_only=True)["hyper_parameters"]["class_names"])
    cases = [
        (_changed_checkpoint(trained_checkpoint, tmp_path / "classes.ckpt", {"class_names": [*classes, "truck"]}),
         ["classes.ckpt: its weights do not fit its settings", f"{len(classes) + 1} classes", "class_net.predict"]),
        (_changed_checkpoint(trained_checkpoint, tmp_path / "size0.ckpt", {"image_size": 0}),
         ["size0.ckpt", "image_size 0 must be a positive multiple of 128"]),
        (_changed_checkpoint(trained_checkpoint, tmp_path / "nan.ckpt", weights=_nan_in_the_stem),
         ["nan.ckpt: its weights hold non-finite values (NaN or inf) in 1 of", "conv_stem.weight", "diverged"]),
    ]
    random_bytes = tmp_path / "random.ckpt"
    random_bytes.write_bytes(random.Random(0).randbytes(4096))
    for path, words in cases:
        _one_line(explain_py(str(path), "--output", str(tmp_path / "out"), *FAST), 2, *words)
    last = _one_line(explain_py(str(random_bytes), "--output", str(tmp_path / "out"), *FAST), 2,
                     "random.ckpt: not a readable checkpoint")
    assert "weights_only" not in last and "will likely succeed" not in last  # never advice to run a stranger's code
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", ["0", "33"])
def test_train_py_refuses_an_image_size_effdet_cannot_take_in_one_line(synthetic_root, tmp_path, size):
    result = train_py([*TRAIN, "--data.root", str(synthetic_root), "--data.image_size", size,
                       "--trainer.default_root_dir", str(tmp_path / "run")], cwd=tmp_path)
    _one_line(result, 2, f"image_size {size} must be a positive multiple of 128")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("after", [0.5, 6.0])
def test_ctrl_c_in_explain_py_is_one_line_exit_130_and_nothing_written(trained_checkpoint, tmp_path, after):
    """Ctrl-C while the libraries load (0.5 s) and while images are explained (6 s: 4000 masks a box)."""
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(REPO / "explain.py"), str(trained_checkpoint), "--output", str(out),
                                "--methods", "rise", "--method_settings", "{rise: {n_masks: 4000}}", "--num_images", "5"],
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    _one_line(subprocess.CompletedProcess(process.args, process.returncode, "", stderr), 130, "explain.py: interrupted")
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_a_yaml_alias_bomb_is_refused_as_such_in_a_short_line(trained_checkpoint, tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcde", "bcdef")]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join([*lines, "methods: [*f]"]) + "\n")
    result = explain_py(str(trained_checkpoint), "--config", str(bomb), "--output", str(tmp_path / "out"))
    _one_line(result, 2, "YAML aliases expand to more than 100000 values")
    assert len(result.stderr) < 2000


def test_a_value_quoted_in_an_error_is_cut(trained_checkpoint, tmp_path):
    result = explain_py(str(trained_checkpoint), "--output", str(tmp_path / "out"), "--part", "x" * 100_000)
    last = _one_line(result, 2, "part", "characters")
    assert len(last) < 1200


def test_limit_batches_given_as_an_integer_stays_a_count(synthetic_root, tmp_path):
    cli = run_cli(["--config", str(REPO / "configs" / "demo.yaml"), "--data.root", str(synthetic_root),
                   "--trainer.logger", "false", "--trainer.limit_val_batches", "1", "--trainer.limit_train_batches",
                   "0.5", "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert cli.trainer.limit_val_batches == 1 and isinstance(cli.trainer.limit_val_batches, int)
    assert cli.trainer.limit_train_batches == 0.5


def test_an_animated_image_is_refused_in_one_line(trained_checkpoint, synthetic_root, tmp_path):
    from PIL import Image
    frame = Image.open(sorted((synthetic_root / "ConvertedImages" / "mir").glob("*.png"))[0]).convert("RGB")
    frame.save(tmp_path / "clip.gif", save_all=True, append_images=[frame.rotate(90)])
    result = explain_py(str(trained_checkpoint), "--images", str(tmp_path / "clip.gif"), "--output", str(tmp_path / "out"),
                        *FAST)
    _one_line(result, 2, "clip.gif: an image of 2 frames")
    assert not (tmp_path / "out").exists()


def test_your_own_images_boxes_are_in_its_own_pixels_in_boxes_csv(trained_checkpoint, synthetic_root, tmp_path):
    from PIL import Image
    source = sorted((synthetic_root / "ConvertedImages" / "mir").glob("*.png"))[0]
    Image.open(source).convert("RGB").resize((4000, 3000)).save(tmp_path / "big.jpg")
    assert explain_py(str(trained_checkpoint), "--images", str(tmp_path / "big.jpg"), "--output", str(tmp_path / "out"),
                      *FAST).returncode == 0
    rows = read_rows(tmp_path / "out" / "boxes.csv")
    corners = [[float(row[k]) for k in ("x1", "y1", "x2", "y2")] for row in rows]
    assert all(0 <= x1 < x2 <= 4000 and 0 <= y1 < y2 <= 3000 for x1, y1, x2, y2 in corners)
    assert max(x2 for _, _, x2, _ in corners) > 128  # not the net's 128-px input
