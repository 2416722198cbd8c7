"""Saliency methods for one detection, chosen by name: ``create("rise", n_masks=500)``."""
from . import baselines, cam_family, gradcam, gradient, rise, scorecam, sess, sidu  # noqa: F401  (registers the methods)
from .base import REGISTRY, MethodInfo, SaliencyMethod, create, list_methods, method_names, normalize, register

__all__ = ["REGISTRY", "MethodInfo", "SaliencyMethod", "create", "list_methods", "method_names", "normalize", "register"]
