"""Rebuilding a trained detector and its input pipeline from a checkpoint file alone.

A checkpoint is read as data (``torch.load(weights_only=True)``): tensors, containers, numbers,
strings and the few types below. A pickle can name any function to call while it loads, and
checkpoints travel between people (W&B artifacts, shared folders), so a file that needs anything
else is refused unless the user says they trust it, which runs whatever code the file holds.
"""
from __future__ import annotations

import os
import pathlib
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .data_modules.datamodule import MultispectralDataModule
from .lit_modules import EfficientDetModule
from .settings import SettingsError, UserError, check_image_size, one_line

SPLIT_SETTINGS = {"split", "split_file", "seed", "test_fraction", "val_fraction"}

#: Types a checkpoint of this project may hold beyond plain data (a path given in Python as a
#: data root). Rebuilding them runs no code of the file's choosing.
SAFE_GLOBALS = [pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath]
# Lightning's own loads (resuming with train.py fit --ckpt_path) accept them too.
torch.serialization.add_safe_globals(SAFE_GLOBALS)

TRUST_HINT = ("if you trust whoever made the file, pass --trust_checkpoint, which loads it with pickle and so runs "
              "any code stored in it")


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable, unsafe to load or was not written by this project."""


#: A W&B artifact reference: ``[entity/][project/]name:version-or-alias``.
ARTIFACT_REFERENCE = re.compile(r"^(?:[\w.-]+/){0,2}(?P<name>[\w.-]+):(?P<version>[\w.-]+)$")


def resolve_checkpoint(given: str | Path) -> Path:
    """The checkpoint file that ``given`` names: a file; a folder holding one (a W&B model artifact
    as ``wandb artifact get`` or ``artifact.download()`` leave it: ``model.ckpt`` and split.json);
    or a W&B artifact reference (``model-1a2b3c4d:v3``, ``entity/project/model-1a2b3c4d:best``)
    whose folder is under ``$WANDB_ARTIFACT_DIR`` or ``./artifacts`` (W&B's download folders).
    Nothing is downloaded: without the folder the error says how to get it."""
    path = Path(given)
    try:
        return _resolved(path, given)
    except PermissionError as err:
        raise CheckpointError(f"{given}: cannot be read ({err.strerror})") from None


def _resolved(path: Path, given: str | Path) -> Path:
    reference = ARTIFACT_REFERENCE.match(str(given))
    if not path.exists() and reference:
        folders = [Path(os.environ.get("WANDB_ARTIFACT_DIR", "artifacts")) / f"{reference['name']}:{reference['version']}"]
        path = next((f for f in folders if f.is_dir()), None)
        if path is None:
            raise CheckpointError(f"{given}: a W&B artifact that is not here (looked in {folders[0]}); download it with "
                                  f"`wandb artifact get {given}` and pass the folder it writes, or its model.ckpt")
    if path.is_dir():
        found = [path / "model.ckpt"] if (path / "model.ckpt").is_file() else sorted(path.glob("*.ckpt"))
        if len(found) != 1:
            raise CheckpointError(f"{path}: a folder with {'no' if not found else len(found)} checkpoint files; "
                                  "name the .ckpt file to explain")
        return found[0]
    return path


def read_checkpoint(path: str | Path, trust: bool = False, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's contents, read as data unless ``trust``; a file that needs more is refused
    with one line naming the types it would have had to run."""
    path = Path(path)
    try:
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint not found")
    except PermissionError as err:
        raise CheckpointError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=not trust, mmap=mmap)
    except pickle.UnpicklingError as err:
        unsafe = [] if trust else _unsafe_globals(path)
        if unsafe:
            raise CheckpointError(f"{path}: refused: loading it would call {', '.join(unsafe)}, which a checkpoint "
                                  f"written by train.py never holds; {TRUST_HINT}") from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({_reason(err)})") from None
    except Exception as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: {_reason(err)})") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: not a checkpoint (it holds a {type(saved).__name__}, not a dict)")
    return saved


def _reason(err: BaseException) -> str:
    """What went wrong, without torch's advice to load the file with ``weights_only=False``: that
    would run whatever code a stranger's file holds (``--trust_checkpoint`` says so where it fits)."""
    text = str(err)
    found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\n\n|$)", text, re.S)
    if found and found.group(1).strip():
        return one_line(found.group(1), 300)
    kept = [line for line in text.splitlines() if "weights_only" not in line and "arbitrary code" not in line]
    return one_line(" ".join(kept) or type(err).__name__, 300)


def _unsafe_globals(path: Path) -> list[str]:
    """The functions and classes the file's pickle names beyond the allowed ones (zip checkpoints)."""
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip file: torch cannot list them, and the plain error says enough
        return []


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", trust: bool = False, **data_overrides
) -> tuple[EfficientDetModule, MultispectralDataModule]:
    """The detector in eval mode and a DataModule with the training run's data settings.

    ``data_overrides`` replace saved data settings, e.g. ``root`` when the dataset moved, or
    ``spectra`` to apply a mixed RGB+MIR net to one spectrum. The split of scenes the net was
    trained with comes from the checkpoint unless an override changes how the split is made.
    ``trust`` loads a file that plain data loading refuses (running any code it holds).
    """
    path = Path(path)
    saved = read_checkpoint(path, trust)
    missing = [k for k in ("state_dict", "hyper_parameters", "datamodule_hyper_parameters") if k not in saved]
    if missing:
        raise CheckpointError(f"{path}: lacks {missing}; was it written by train.py?")
    model_missing = [k for k in ("class_names", "image_size", "in_chans", "model_name") if k not in saved["hyper_parameters"]]
    if model_missing:
        raise CheckpointError(f"{path}: a checkpoint of another model (its hyper-parameters lack {model_missing}), "
                              f"not of spectral-xai's EfficientDetModule")
    # Lightning adds private keys (such as the CLI's "_instantiator") beside the init arguments.
    saved_settings = {k: v for k, v in saved["datamodule_hyper_parameters"].items() if not k.startswith("_")}
    data_settings = {**saved_settings, **data_overrides}
    try:
        check_image_size("its model", saved["hyper_parameters"]["image_size"])
        datamodule = MultispectralDataModule(**data_settings)
    except SettingsError as err:
        raise CheckpointError(f"{path}: {err}") from None
    stored = saved.get(MultispectralDataModule.__qualname__)
    if stored and not SPLIT_SETTINGS & data_overrides.keys():
        datamodule.load_state_dict(stored)
    module = _module(path, map_location, trust, saved["hyper_parameters"])
    if list(datamodule.class_names) != list(module.hparams.class_names):
        raise CheckpointError(f"{path}: the network was trained on classes {list(module.hparams.class_names)}, "
                              f"the data give {list(datamodule.class_names)}")
    if datamodule.in_chans != module.hparams.in_chans:
        raise CheckpointError(
            f"{path}: the network takes {module.hparams.in_chans} channels but spectra "
            f"{datamodule.spectra} with fusion {datamodule.fusion!r} give {datamodule.in_chans}"
        )
    return module.eval(), datamodule


def _module(path: Path, map_location: str | torch.device, trust: bool, hparams: dict[str, Any]
            ) -> EfficientDetModule:
    """The net, whose weights must fit its saved settings and be finite: weights of another class
    count or input, or a diverged training's NaNs, are named here rather than found by a traceback
    or by a run with nothing to explain."""
    try:
        module = EfficientDetModule.load_from_checkpoint(path, map_location=map_location, weights_only=not trust)
    except RuntimeError as err:
        mismatched = [f"{name} is {held} in the file, {wanted} for these settings" for name, held, wanted in
                      re.findall(r"size mismatch for ([\w.]+): copying a param with shape torch.Size\((\[[^]]*\])\) "
                                 r"from checkpoint, the shape in current model is torch.Size\((\[[^]]*\])\)", str(err))]
        if not mismatched:
            raise
        raise CheckpointError(f"{path}: its weights do not fit its settings ({len(hparams['class_names'])} classes "
                              f"{list(hparams['class_names'])}, {hparams['in_chans']} input channels): "
                              f"{one_line('; '.join(mismatched[:2]), 400)}") from None
    weights = module.eval_net.state_dict()
    broken = [name for name, tensor in weights.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise CheckpointError(f"{path}: its weights hold non-finite values (NaN or inf) in {len(broken)} of "
                              f"{len(weights)} tensors of the net it explains, e.g. {', '.join(broken[:3])}: the training "
                              f"diverged before it was saved; explain an earlier checkpoint")
    return module
