"""EfficientDet-D0 detectors on multispectral images, and explanations of their detections.

What a notebook needs, from one place::

    from spectral_xai import explain, list_methods
    explained = explain("runs/demo/checkpoints/last.ckpt", methods=["gradcam", "rise"], num_images=2)
"""
from __future__ import annotations

import importlib
from typing import Any

#: name -> the module that defines it; imported on first use, so that ``import spectral_xai.x``
#: does not load the whole package (and no module here imports its own package's top level).
EXPORTS = {"explain": "api", "Explanations": "api", "ExplainedImage": "api", "ImageSpec": "reporting.spec",
           "load_checkpoint": "checkpoint", "Explainer": "explaining", "ExplainSettings": "explain_settings",
           "create": "explainers", "method_names": "explainers",
           "list_methods": "explainers", "Scoring": "detection"}
__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in EXPORTS:
        raise AttributeError(f"module 'spectral_xai' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return __all__
