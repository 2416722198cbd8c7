"""Capturing the feature maps that enter one layer, per call.

effdet's class and box heads are shared by the five levels and run five times per forward pass,
so a module hook fires once per level: every call is kept, and the caller picks the level of the
detection it explains. A layer that runs once per forward gives one entry.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

from ..detection import Detector, Target


@contextmanager
def tap_inputs(net: nn.Module, layer: str) -> Iterator[list[torch.Tensor]]:
    try:
        module = net.get_submodule(layer)
    except AttributeError:
        raise ValueError(f"layer {layer!r} not found in {type(net).__name__}") from None
    calls: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _module, args: calls.append(args[0]))
    try:
        yield calls
    finally:
        handle.remove()


def features_for_level(calls: list[torch.Tensor], level: int, layer: str) -> torch.Tensor:
    if not calls:
        raise RuntimeError(f"layer {layer!r} did not run in the forward pass")
    if len(calls) > 1:  # a head shared by the levels runs once per level
        return calls[level]
    # A layer that takes every level at once (the heads' input: the BiFPN outputs) gets a list.
    return calls[0][level] if isinstance(calls[0], (list, tuple)) else calls[0]


def features_by_level(detector: Detector, image: torch.Tensor, layer: str,
                      targets: Sequence[Target]) -> Iterator[tuple[torch.Tensor, list[int]]]:
    """One forward pass without gradients, then for each pyramid level that holds targets: the
    features [1, K, h, w] entering ``layer`` at that level and the indices of its targets. Methods
    whose perturbations are made from one level's features share them among that level's targets."""
    with torch.no_grad(), tap_inputs(detector.net, layer) as calls:
        raw = detector.raw(image[None])
    levels: dict[int, list[int]] = {}
    for k, target in enumerate(targets):
        levels.setdefault(detector.locate(raw, target.anchor)[0], []).append(k)
    for level, members in levels.items():
        yield features_for_level(calls, level, layer), members


def per_channel_cost(layer: str) -> str:
    """What a method costs that masks the image once per feature channel (SIDU, Score-CAM)."""
    return f"1 + C fwd, C the channels entering {layer} (64 in EfficientDet-D0)"
