"""EfficientDets trained elsewhere (effdet's own training scripts, a plain ``state_dict``), described
by a small YAML file, so that explain.py and :func:`~spectral_xai.explain` can explain them::

    weights: runs/effdet/model_best.pth.tar   # relative to this file
    model_name: tf_efficientdet_d0            # effdet's name of the architecture
    class_names: [person, car, bike]          # in label order
    image_size: 512                           # the square input the net was trained at
    anchor_scale: 4.0                         # optional: where its config changed effdet's anchors
    spectra: [rgb]                            # what its input holds (fusion: early stacks several)
    mean: [0.485, 0.456, 0.406]               # its normalisation of one 3-channel spectrum
    std: [0.229, 0.224, 0.225]
    root: /data/ir_det_dataset                # optional: the dataset, to explain its scenes

The weights file is read as data (as checkpoints are): a state_dict of effdet's ``EfficientDet``,
of its training bench (keys under ``model.``), of a DistributedDataParallel wrapper (``module.``), or
a training checkpoint holding one under ``state_dict_ema`` (preferred, as effdet evaluates the
weight average) or ``state_dict``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from .data_modules.datamodule import MultispectralDataModule, input_channels
from .data_modules.transforms import IMAGENET_MEAN, IMAGENET_STD
from .lit_modules import EfficientDetModule
from .settings import Setting, SettingsError, bounded_yaml, check_image_size, check_settings

DESCRIPTION = {"weights": Setting(str), "model_name": Setting(str), "class_names": Setting(list),
               "image_size": Setting(int, low=128),
               "anchor_scale": Setting(float, low=0, open="low"), "spectra": Setting(list), "fusion": Setting(str, choices=("mixed", "early")),
               "mean": Setting(list), "std": Setting(list), "root": Setting(str)}
#: Where a training checkpoint keeps the weights, in the order they are looked for.
WEIGHT_KEYS = ("state_dict_ema", "state_dict", "model")
PREFIXES = ("module.", "model.")
#: The training bench's anchors, which EfficientDetModule makes itself.
BENCH_BUFFERS = ("anchors.boxes",)


def is_description(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".yaml", ".yml")


def load_net(path: str | Path, trust: bool = False, **data_overrides: Any
             ) -> tuple[EfficientDetModule, MultispectralDataModule]:
    """A checkpoint written by train.py (``data_overrides`` replace its data settings), or a net
    trained elsewhere given by its YAML description: what explain.py and ``explain`` take."""
    if is_description(path):
        return load_effdet(path, trust)
    return load_checkpoint(path, trust=trust, **data_overrides)


def load_effdet(path: str | Path, trust: bool = False) -> tuple[EfficientDetModule, MultispectralDataModule]:
    """The described net in eval mode, and a data module with its input settings (and its dataset,
    where ``root`` is given: a fresh split of that dataset's scenes, made with seed 0)."""
    path = Path(path)
    description = _description(path)
    spectra, fusion = description.get("spectra", ["rgb"]), description.get("fusion", "mixed")
    data = MultispectralDataModule(root=str(path.parent / description.get("root", ".")), spectra=spectra, fusion=fusion,
                                   image_size=description.get("image_size", 512), num_workers=0,
                                   mean=description.get("mean", IMAGENET_MEAN), std=description.get("std", IMAGENET_STD),
                                   class_names=description["class_names"])
    module = EfficientDetModule(description["class_names"], data.hparams.image_size, input_channels(spectra, fusion),
                                description.get("model_name", "tf_efficientdet_d0"),
                                anchor_scale=description.get("anchor_scale"))
    weights = path.parent / description["weights"]
    state = _state_dict(weights, read_checkpoint(weights, trust))
    expected = (f"{weights}: not the weights of a {module.hparams.model_name} with {len(description['class_names'])} "
                f"classes and {module.hparams.in_chans} input channels")
    try:
        missing, unexpected = module.net.load_state_dict(state, strict=False)
    except RuntimeError as err:  # tensors of other shapes: torch lists them, one per line
        mismatches = [line.strip() for line in str(err).splitlines() if "size mismatch" in line]
        raise CheckpointError(f"{expected} ({_some(mismatches)})") from None
    if missing or unexpected:
        raise CheckpointError(f"{expected} (missing {_some(missing)}; unexpected {_some(unexpected)})")
    return module.eval(), data


def _description(path: Path) -> dict[str, Any]:
    try:
        description = bounded_yaml(yaml.safe_load)(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CheckpointError(f"{path}: not a readable net description ({' '.join(str(err).split())})") from None
    if not isinstance(description, dict) or "weights" not in description or "class_names" not in description:
        raise CheckpointError(f"{path}: a net description names at least its weights and class_names")
    try:
        check_settings(str(path), description, DESCRIPTION)
        check_image_size(str(path), description.get("image_size", 512))
    except SettingsError as err:
        raise CheckpointError(str(err)) from None
    return description


def _state_dict(path: Path, saved: dict[str, Any]) -> dict[str, torch.Tensor]:
    for key in WEIGHT_KEYS:
        if isinstance(saved.get(key), dict):
            saved = saved[key]
            break
    state = {}
    for name, value in saved.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: {name!r} is a {type(value).__name__}, not a tensor: not a state_dict")
        for prefix in PREFIXES:
            name = name.removeprefix(prefix)
        if name not in BENCH_BUFFERS:
            state[name] = value
    return state


def _some(keys: list[str]) -> str:
    return "none" if not keys else ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
