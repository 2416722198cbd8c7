"""Rebuilding a trained detector and its input pipeline from a checkpoint file alone."""
from __future__ import annotations

from pathlib import Path

import torch

from .data_modules.datamodule import MultispectralDataModule
from .lit_modules import EfficientDetModule


SPLIT_SETTINGS = {"split", "split_file", "seed", "test_fraction", "val_fraction"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or was not written by this project."""


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", **data_overrides
) -> tuple[EfficientDetModule, MultispectralDataModule]:
    """The detector in eval mode and a DataModule with the training run's data settings.

    ``data_overrides`` replace saved data settings, e.g. ``root`` when the dataset moved, or
    ``spectra`` to apply a mixed RGB+MIR net to one spectrum. The split of scenes the net was
    trained with comes from the checkpoint unless an override changes how the split is made.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: not a checkpoint (it holds a {type(saved).__name__}, not a dict)")
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
    datamodule = MultispectralDataModule(**data_settings)
    stored = saved.get(MultispectralDataModule.__qualname__)
    if stored and not SPLIT_SETTINGS & data_overrides.keys():
        datamodule.load_state_dict(stored)
    module = EfficientDetModule.load_from_checkpoint(path, map_location=map_location)
    if list(datamodule.class_names) != list(module.hparams.class_names):
        raise CheckpointError(f"{path}: the network was trained on classes {list(module.hparams.class_names)}, "
                              f"the data give {list(datamodule.class_names)}")
    if datamodule.in_chans != module.hparams.in_chans:
        raise CheckpointError(
            f"{path}: the network takes {module.hparams.in_chans} channels but spectra "
            f"{datamodule.spectra} with fusion {datamodule.fusion!r} give {datamodule.in_chans}"
        )
    return module.eval(), datamodule
