"""The one interface of every saliency method, and the registry that finds methods by name.

``method(scorer, image, target) -> saliency [H, W] in [0, 1]``. The scorer carries the detector
and the run's one scoring rule: gradient methods use its detector, perturbation methods ask it how
strongly each altered image still shows the target, exactly as the metric will. A new method is
one small file: subclass :class:`SaliencyMethod`, implement :meth:`saliency`, decorate with
``@register("name")``; a method that can share work among the boxes of one image subclasses
:class:`MultiTargetMethod` and implements :meth:`saliency_all` instead.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch

from ..detection import DetectionScorer, EffdetDetector, Target

REGISTRY: dict[str, Callable[..., "SaliencyMethod"]] = {}


def register(name: str, **fixed) -> Callable[[type], type]:
    """Register ``cls`` under ``name``; ``fixed`` settings make named variants of one class."""

    def wrap(cls: type) -> type:
        REGISTRY[name] = lambda **settings: cls(**{**fixed, **settings})
        return cls

    return wrap


def check_known(name: str) -> None:
    """Raise ``KeyError`` naming the known methods when ``name`` is not registered."""
    if name not in REGISTRY:
        raise KeyError(f"unknown saliency method {name!r}; known: {sorted(REGISTRY)}")


def method_names(methods: str | Sequence[str]) -> list[str]:
    """The methods asked for, checked: ``all`` (alone or among others) means every registered
    method, in name order."""
    names = [methods] if isinstance(methods, str) else list(methods)
    if "all" in names:
        return sorted(REGISTRY)
    for name in names:
        check_known(name)
    return list(dict.fromkeys(names))


def create(name: str, **settings) -> "SaliencyMethod":
    """The method registered as ``name`` with its settings; unknown names raise ``KeyError``."""
    check_known(name)
    return REGISTRY[name](**settings)


def normalize(saliency: torch.Tensor) -> torch.Tensor:
    """Min-max to [0, 1]; a constant map (nothing explained) becomes all zeros, not NaN."""
    low, high = saliency.min(), saliency.max()
    return (saliency - low) / (high - low) if high > low else torch.zeros_like(saliency)


class SaliencyMethod(ABC):
    def __call__(self, scorer: DetectionScorer, image: torch.Tensor, target: Target) -> torch.Tensor:
        """``image`` [C, H, W] as the detector takes it; returns [H, W] in [0, 1]."""
        return normalize(self.saliency(scorer, image, target).detach().float())

    def explain_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        """One map [H, W] in [0, 1] per target of the same image; equal to calling the method on
        each target, cheaper where :meth:`saliency_all` shares work among targets."""
        return [normalize(s.detach().float()) for s in self.saliency_all(scorer, image, targets)]

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
    def saliency_chunk(self, detector: EffdetDetector, x: torch.Tensor,
                       targets: Sequence[Sequence[Target]]) -> list[list[torch.Tensor]]:
        """Unnormalised maps per image of ``x`` (a batch that autograd tracks) and per target."""
