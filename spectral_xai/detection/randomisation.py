"""Detectors whose weights are randomised: the model-parameter randomisation test's cascade (see
:mod:`spectral_xai.sanity`) and the negative controls' fully random net (a method's map made on it,
scored on the trained one)."""
from __future__ import annotations

import copy

import torch

from .protocol import Detector

#: (stage, the modules of effdet's EfficientDet re-initialised at that stage), cumulative, top down.
CASCADE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("class predict conv", ("class_net.predict",)),
    ("class head", ("class_net",)),
    ("box head + BiFPN", ("box_net", "fpn")),
    ("backbone (all random)", ("backbone",)),
)
STAGES = tuple(stage for stage, _ in CASCADE)


#: How a stage's weights are randomised: ``permute`` shuffles the values of each of its trained
#: tensors (their scale kept, their structure gone); ``init`` re-initialises them as PyTorch does.
RANDOMISATIONS = ("permute", "init")


def randomised_cascade(detector: Detector, seed: int = 0, randomisation: str = "permute") -> list[tuple[str, Detector]]:
    """A copy of ``detector`` per stage of :data:`CASCADE`, each with its stage's modules and all
    stages above randomised, seeded. ``permute`` (the default) keeps each weight tensor's values and
    so its scale: re-initialised, the class head's predict conv has weights of a far smaller scale
    than trained, its outputs hardly depend on the input, and a map of it is little more than its
    method's own prior (SIDU blank, RISE its masks' coverage); ``init`` is the classic test's
    re-initialisation (PyTorch's default, running statistics reset)."""
    return _randomised(detector, seed, randomisation, keep_stages=True)


def _randomised(detector: Detector, seed: int, randomisation: str, keep_stages: bool) -> list[tuple[str, Detector]]:
    """The cascade on one copy of ``detector``, in order and seeded; a copy of each stage kept only
    where ``keep_stages`` asks (the negative controls need the last alone)."""
    if randomisation not in RANDOMISATIONS:
        raise ValueError(f"randomisation {randomisation!r}: choose {' or '.join(RANDOMISATIONS)}")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        random, stages = copy.deepcopy(detector), []
        for stage, modules in CASCADE:
            for name in modules:
                _randomise(random.net.get_submodule(name), randomisation)
            if keep_stages:
                stages.append((stage, copy.deepcopy(random).eval()))
        return stages if keep_stages else [(CASCADE[-1][0], random.eval())]
    finally:
        torch.random.set_rng_state(generator_state)


def _randomise(module: torch.nn.Module, randomisation: str) -> None:
    if randomisation == "init":
        for part in module.modules():
            if hasattr(part, "reset_parameters"):
                part.reset_parameters()
        return
    with torch.no_grad():
        for parameter in module.parameters():
            flat = parameter.detach().reshape(-1)
            parameter.copy_(flat[torch.randperm(flat.numel(), device=flat.device)].reshape(parameter.shape))


def fully_randomised(detector: Detector, seed: int = 0, randomisation: str = "permute") -> Detector:
    """The cascade's last stage: a copy of ``detector`` with every weight randomised."""
    return _randomised(detector, seed, randomisation, keep_stages=False)[-1][1]
