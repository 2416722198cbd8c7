"""The one interface of every saliency method, and the registry that finds methods by name.

``method(scorer, image, target) -> saliency [H, W] in [0, 1]``. The scorer carries the detector
and the run's one scoring rule: gradient methods use its detector, perturbation methods ask it how
strongly each altered image still shows the target, exactly as the metric will. A new method is
one small file: subclass :class:`SaliencyMethod`, implement :meth:`saliency`, decorate with
``@register("name")``; a method that can share work among the boxes of one image subclasses
:class:`MultiTargetMethod` and implements :meth:`saliency_all` instead.
"""
from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from ..detection import DetectionScorer, Detector, Target
from ..settings import Setting, SettingsError, check_layer, check_settings, name_list, unknown_name


class Registered(NamedTuple):
    cls: type
    fixed: dict  # settings the name fixes (gradcam_norelu: relu=False), not the user's to set
    explains: str  # one line for list_methods() and docs/methods.md


REGISTRY: dict[str, Registered] = {}


def register(name: str, explains: str, **fixed) -> Callable[[type], type]:
    """Register ``cls`` under ``name``, with one line on what its maps show; ``fixed`` settings make
    named variants of one class."""

    def wrap(cls: type) -> type:
        REGISTRY[name] = Registered(cls, fixed, explains)
        return cls

    return wrap


@dataclass(frozen=True)
class MethodInfo:
    """A registered method as ``list_methods()`` and ``explain.py --list_methods`` show it."""

    name: str
    explains: str
    cost: str  # model evaluations per box at the default settings


def list_methods() -> list[MethodInfo]:
    """Every registered method, in name order: its name, what it shows, and what a box costs."""
    return [MethodInfo(name, REGISTRY[name].explains, create(name).cost()) for name in sorted(REGISTRY)]


def check_known(name: str) -> None:
    """Raise :class:`SettingsError` naming the known methods (and the closest) when ``name`` is
    not registered."""
    if name not in REGISTRY:
        raise unknown_name("saliency method", name, [*REGISTRY, "all"])


def method_names(methods: str | Sequence[str]) -> list[str]:
    """The methods asked for, checked, however the list was typed (``a,b``, ``[a, b]``, a list):
    ``all`` (alone or among others) means every registered method, in name order."""
    names = name_list(methods, "methods")
    if not names:
        raise SettingsError("methods: name at least one saliency method (or all)")
    if "all" in names:
        return sorted(REGISTRY)
    for name in names:
        check_known(name)
    return list(dict.fromkeys(names))


def method_settings(name: str) -> dict[str, Setting]:
    """The settings a user may give the method registered as ``name``."""
    check_known(name)
    cls, fixed, _ = REGISTRY[name]
    return {key: setting for key, setting in cls.SETTINGS.items() if key not in fixed}


def create(name: str, **settings) -> "SaliencyMethod":
    """The method registered as ``name`` with its settings, each checked against the method's
    declaration: an unknown method or setting, or a value out of range, is a :class:`SettingsError`."""
    checked = check_settings(name, settings, method_settings(name))
    cls, fixed, _ = REGISTRY[name]
    method = cls(**{**fixed, **checked})
    method.name = name
    return method


def derived_seed(seed: int, *keys: int) -> int:
    """A seed for ``keys`` under ``seed``: unrelated to every other key's, the same every run."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def normalize(saliency: torch.Tensor) -> torch.Tensor:
    """Min-max to [0, 1]; a constant map (nothing explained) becomes all zeros, not NaN."""
    low, high = saliency.min(), saliency.max()
    return (saliency - low) / (high - low) if high > low else torch.zeros_like(saliency)


@dataclass(frozen=True)
class MapInfo:
    """What a map says of itself beside its pixels: how many perturbed images it stands on and,
    for a method that averages random masks, its split-half reliability (see :class:`~.rise.RISE`)."""

    masks: int | None = None
    reliability: float = math.nan


class SaliencyMethod(ABC):
    #: The settings the method takes, with their types and ranges; :func:`create` checks every
    #: given setting against them.
    SETTINGS: ClassVar[dict[str, Setting]] = {}
    #: Draws at random from its ``seed`` setting; ``repeats`` explains each box again with other seeds.
    stochastic: bool = False
    #: Scores perturbed images by the scorer's rule (the sanity check scores these by the ``anchor``
    #: rule, so that a randomised net does not blank them by construction).
    perturbs: bool = False
    name: str = ""  # the name it was created by

    def reseeded(self, *keys: int) -> "SaliencyMethod":
        """The same method drawing from a seed derived from its own and ``keys`` (an image's, a
        repeat's) through numpy's SeedSequence, so that nearby keys give unrelated draws; a method
        that draws nothing is itself."""
        if not self.stochastic:
            return self
        again = copy.copy(self)
        again.seed = derived_seed(self.seed, *keys)
        return again

    def describe(self) -> str:
        """The settings it runs with, for reports: ``n_masks 500, grid 8, p 0.1, seed 0``; a method
        wrapped by another (SESS's base) is described by its name and settings."""
        parts = []
        for key in self.SETTINGS:
            value = getattr(self, key, None)
            if isinstance(value, SaliencyMethod):
                value = f"{value.name} ({value.describe()})"
            if value is not None:
                parts.append(f"{key} {value}")
        return ", ".join(parts)

    def cost(self) -> str:
        """Model evaluations per box with these settings, in words ("1 fwd+bwd", "500 fwd"): what
        ``list_methods()`` shows. Every method states its own."""
        raise NotImplementedError(f"{type(self).__name__} does not state its cost")

    def check_net(self, net: nn.Module) -> None:
        """Refuse settings that only a net can check (a ``layer`` that is not one of its modules),
        before the first image is explained."""
        for key, setting in self.SETTINGS.items():
            if setting.layer:
                check_layer(self.name or type(self).__name__, net, getattr(self, key))

    def __call__(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        """``image`` [C, H, W] as the detector takes it; returns [H, W] in [0, 1]."""
        return normalize(self.saliency(scorer, image, target).detach().float())

    def explain_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """One map [H, W] in [0, 1] per target of the same image; equal to calling the method on
        each target, cheaper where :meth:`saliency_all` shares work among targets."""
        return [normalize(s.detach().float()) for s in self.saliency_all(scorer, image, targets)]

    def explain_reported(self, scorer: DetectionScorer, image: torch.Tensor,
                         targets: Sequence[Target]) -> list[tuple[torch.Tensor, MapInfo]]:
        """:meth:`explain_all`'s maps, each with what it says of itself (:class:`MapInfo`)."""
        return [(normalize(s.detach().float()), info) for s, info in self.saliency_reported(scorer, image, targets)]

    def saliency_reported(self, scorer: DetectionScorer, image: torch.Tensor,
                          targets: Sequence[Target]) -> list[tuple[torch.Tensor, MapInfo]]:
        """Unnormalised maps with their :class:`MapInfo`; a method with something to say overrides it."""
        return [(s, MapInfo()) for s in self.saliency_all(scorer, image, targets)]

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """Unnormalised maps, one per target; methods whose perturbations do not depend on the
        target override this to score every target on one stream of perturbed images."""
        return [self.saliency(scorer, image, target) for target in targets]

    def explain_batch(self, scorer: DetectionScorer, images: torch.Tensor,
                      targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        """For several images [N, C, H, W] (windows of one image, say), the maps in [0, 1] of each
        image's targets; equal to :meth:`explain_all` on each image."""
        return [[normalize(s.detach().float()) for s in maps] for maps in self.saliency_batch(scorer, images, targets)]

    def saliency_batch(self, scorer: DetectionScorer, images: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        """Unnormalised maps per image and target. Image by image here: a perturbation method
        batches its own perturbed images already; a gradient method overrides this to run several
        images through one forward pass."""
        return [self.saliency_all(scorer, image, image_targets) for image, image_targets in zip(images, targets)]

    @abstractmethod
    def saliency(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        """Unnormalised [H, W] saliency."""


class MultiTargetMethod(SaliencyMethod):
    """A method that explains all targets of an image in one call (sharing perturbed images or a
    forward pass among them); one target is the case of one."""

    def saliency(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        return self.saliency_all(scorer, image, [target])[0]

    @abstractmethod
    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """Unnormalised maps, one per target."""


@contextmanager
def input_with_gradient(images: torch.Tensor) -> Iterator[torch.Tensor]:
    """A copy of ``images`` [N, C, H, W] that autograd tracks, also inside Lightning's validation,
    which runs under inference mode (whose tensors cannot join autograd)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield images.clone().requires_grad_(True)


#: Images per forward pass when a gradient method explains several (SESS's windows): it keeps the
#: autograd graph of a whole forward pass, so its batches are smaller than the scorer's.
GRADIENT_BATCH = 8


class GradientMethod(MultiTargetMethod):
    """A method that back-propagates from each target through one forward pass of its image; several
    images (SESS's windows) share a forward pass, ``GRADIENT_BATCH`` at a time. The heads run per
    image in eval mode, so an image's gradient is its own."""

    def cost(self) -> str:
        return "1 fwd+bwd"

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        return self.saliency_batch(scorer, image[None], [targets])[0]

    def saliency_batch(self, scorer: DetectionScorer, images: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        maps = []
        for start in range(0, len(images), GRADIENT_BATCH):
            chunk = slice(start, start + GRADIENT_BATCH)
            with input_with_gradient(images[chunk]) as x:
                maps += self.saliency_chunk(scorer.detector, x, targets[chunk])
        return maps

    @abstractmethod
    def saliency_chunk(self, detector: Detector, x: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        """Unnormalised maps per image of ``x`` (a batch that autograd tracks) and per target."""
