"""A map against what truly moved the detector, on rendered data: each cause of the box (a part of
its object, another object, the context) rendered away, and the target's score change is that
cause's true effect (no fill, no mask shape). FunnyBirds (Hesse et al. 2023) did this for
classifiers; here it is done for one detection.

- ``part_ranking``: Spearman between the map's mass on each part and other object and their true
  effects (1: the map ranks the causes as the detector weighs them);
- ``top_part``: whether the part or object with the most mass is the one with the largest effect;
- ``cue_enrichment``: for a running car, the map's share of mass on its cue (hot hood, headlights)
  over the cue's share of the box (a map spread evenly over the box scores 1);
- ``target_sensitivity``: the share of the map's mass on other objects (lower is better).

A box whose largest effect is within the noise of its effects (the same change under another noise
seed) has no measurable cause: its scores are NaN, and the run counts such boxes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .agreement import spearman
from .localisation import box_mask
from .registry import Metric, ScoredMap, register

RANKED = ("part", "object")


@dataclass
class KnownCauses:
    """The causes of one box, in input pixels, with their true effects."""

    names: list[str]
    kinds: list[str]  # "part", "object", "context", "cue" or "spectrum" (in one spectrum of a fused input only)
    masks: torch.Tensor  # [K, H, W]: the share of each input pixel each cause covers
    effects: torch.Tensor  # [K]: the target's score on the image minus its score with the cause rendered away
    noise: torch.Tensor  # [K]: how much each effect moves under another noise seed

    @property
    def measurable(self) -> bool:
        """The largest effect of a cause in every spectrum stands out of the noise (a cause in one
        spectrum only is a share of one of those, not a cause of its own)."""
        whole = torch.tensor([kind != "spectrum" for kind in self.kinds], dtype=torch.bool)
        if not whole.any():
            return False
        return bool(self.effects[whole].abs().max() > max(float(self.noise[whole].max()), 1e-6))

    def effect_of(self) -> dict[str, float]:
        return {name: round(float(effect), 4) for name, effect in zip(self.names, self.effects)}

    def noise_of(self) -> dict[str, float]:
        return {name: round(float(noise), 4) for name, noise in zip(self.names, self.noise)}

    def regions(self) -> CauseRegions:
        """Where each part and other object shows (they never overlap: each pixel shows one), kept
        small for figures: one label per input pixel."""
        ranked = [k for k, kind in enumerate(self.kinds) if kind in RANKED]
        if not ranked:
            return CauseRegions([], torch.full(tuple(self.masks.shape[1:]), -1, dtype=torch.int8))
        share, which = self.masks[ranked].max(dim=0)
        labels = torch.where(share >= 0.5, which, torch.full_like(which, -1)).to(torch.int8)
        return CauseRegions([self.names[k] for k in ranked], labels)


@dataclass
class CauseRegions:
    """The parts and other objects of a box, named, and which one each input pixel shows (-1: none)."""

    names: list[str]
    labels: torch.Tensor  # [H, W] int8

    def mass(self, saliency: torch.Tensor) -> torch.Tensor:
        """[K]: the share of the map's mass on each cause."""
        total = float(saliency.sum())
        flat, labels = saliency.flatten().float(), self.labels.flatten().long()
        mass = torch.zeros(len(self.names)).index_add_(0, labels.clamp(min=0), flat * (labels >= 0))
        return mass / total if total > 0 else mass


def _ranked(scored: ScoredMap) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The map's mass and the true effects of the parts and other objects; None where unknown."""
    truth: KnownCauses | None = scored.truth
    if truth is None or not truth.measurable:
        return None
    keep = torch.tensor([kind in RANKED for kind in truth.kinds])
    mass = (truth.masks[keep].to(scored.saliency) * scored.saliency[None]).sum(dim=(1, 2))
    return mass.cpu(), truth.effects[keep].cpu()


def part_ranking(scored: ScoredMap) -> float:
    ranked = _ranked(scored)
    return math.nan if ranked is None else spearman(*ranked)


def top_part(scored: ScoredMap) -> float:
    ranked = _ranked(scored)
    if ranked is None or float(ranked[0].max()) <= 0:
        return math.nan
    return float(int(ranked[0].argmax()) == int(ranked[1].argmax()))


def cue_enrichment(scored: ScoredMap) -> float:
    truth: KnownCauses | None = scored.truth
    total = float(scored.saliency.sum())
    if truth is None or "cue" not in truth.kinds or total <= 0:
        return math.nan
    cue = truth.masks[truth.kinds.index("cue")].to(scored.saliency)
    inside = box_mask(scored.target.box.to(scored.saliency.device), tuple(scored.saliency.shape))
    share_of_box = float(cue[inside].sum()) / max(int(inside.sum()), 1)
    return float((cue * scored.saliency).sum()) / total / share_of_box if share_of_box > 0 else math.nan


def target_sensitivity(scored: ScoredMap) -> float:
    truth: KnownCauses | None = scored.truth
    total = float(scored.saliency.sum())
    if truth is None or total <= 0:
        return math.nan
    others = torch.tensor([kind == "object" for kind in truth.kinds])
    on_others = truth.masks[others].to(scored.saliency).amax(dim=0) if others.any() else torch.zeros_like(scored.saliency)
    return float((on_others * scored.saliency).sum()) / total


# Margins on each metric's own scale: 0.1 of a rank correlation, 10 points of a share of boxes, a
# tenth of the box baseline's cue enrichment (1).
register(Metric("part_ranking", "known_causes", False, part_ranking, "part ranking", "part ranking", primary=True,
                switch="known_causes", margin=0.1))
register(Metric("top_part", "known_causes", False, top_part, "top part correct", "top part", primary=True,
                switch="known_causes", margin=0.1))
register(Metric("cue_enrichment", "known_causes", False, cue_enrichment, "cue enrichment", "cue enrichment",
                primary=True, switch="known_causes", margin=0.1))
register(Metric("target_sensitivity", "known_causes", True, target_sensitivity, "mass on other objects",
                "on other objects", switch="known_causes"))
