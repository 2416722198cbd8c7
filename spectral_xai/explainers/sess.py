"""SESS: scale and slide around any base method (Tursun et al. 2023, Algorithm 1)."""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

from torch import nn
from torchvision.ops import box_iou

from .base import MultiTargetMethod, create, register
from ..settings import Setting, SettingsError
from ..detection import DetectionScorer, Detections, Target


@dataclass(frozen=True)
class Window:
    """A model-input-sized patch of the image scaled to ``size`` (H, W), at (``top``, ``left``)."""

    size: tuple[int, int]
    top: int
    left: int


def offsets(length: int, window: int, stride: int) -> list[int]:
    """Window starts covering ``length``: every ``stride``, the last one moved inward to the edge."""
    starts = list(range(0, length - window + 1, stride))
    return starts if starts[-1] == length - window else [*starts, length - window]


@register("sess", "SESS around a base method: scaled, windowed copies of the image explained and fused")
class SESS(MultiTargetMethod):
    """The image is scaled by (224 + 64 (i - 1)) / 224 for i = 1..``scales`` (the paper's sizes,
    relative to its 224-pixel window; here the window is the model's input, so scale 1 is the image
    itself and 12 scales reach about 4.4x), and each scaled image is cut into input-sized windows
    every ``stride`` of the window (1: no overlap, the paper's default; edge windows moved inward).

    Each window is one batched forward pass; the target is re-identified in it by the run's
    scoring rule, with its box mapped into the window (clipped; at least ``min_inside`` of its area
    must lie inside, else the window does not show it). The best ``1 - drop`` of all windows that
    show the target are kept (the paper's pre-filter, r = ``drop``); ``base`` explains the
    re-identified detection in each kept window (the kept windows of one scale in one call, so that a
    gradient method runs them through one forward pass), each map is min-max normalised, weighted by the window's score, pasted into a blank
    canvas of its scaled image and resized to the input; the fused map is, per pixel, the mean of
    the non-zero values over windows (theta = 0). No smoothing: the maps are scored by
    insertion/deletion. Cost: the windows' forward passes plus the base method on each kept window.
    """

    SETTINGS = {"base": Setting(str), "base_settings": Setting(dict), "scales": Setting(int, 1, 12),
                "stride": Setting(float, 0, 1, open="low"), "drop": Setting(float, 0, 1, open="high"),
                "min_inside": Setting(float, 0, 1, open="low")}

    def __init__(self, base: str = "gradcam", base_settings: dict | None = None, scales: int = 5,
                 stride: float = 1.0, drop: float = 0.5, min_inside: float = 0.5):
        if base == "sess":
            raise SettingsError("sess: base 'sess': sess cannot wrap itself; choose another base method")
        try:
            self.base = create(base, **(base_settings or {}))
        except SettingsError as err:
            raise SettingsError(f"sess: base: {err}") from None
        self.scales, self.stride, self.drop, self.min_inside = scales, stride, drop, min_inside
        self.stochastic, self.perturbs = self.base.stochastic, True

    def reseeded(self, *keys: int) -> "SESS":
        again = copy.copy(self)
        again.base = self.base.reseeded(*keys)
        return again

    def check_net(self, net: nn.Module) -> None:
        self.base.check_net(net)

    def cost(self) -> str:
        windows = len(self.windows(512, 512))  # the count depends on the scales and stride, not the size
        kept = math.ceil((1 - self.drop) * windows)
        return f"{windows} fwd + {self.base.name} ({self.base.cost()}) on up to {kept} windows"

    def windows(self, height: int, width: int) -> list[Window]:
        sizes = [(round(height * f), round(width * f)) for f in ((224 + 64 * i) / 224 for i in range(self.scales))]
        step_y, step_x = max(1, round(height * self.stride)), max(1, round(width * self.stride))
        return [Window(size, top, left) for size in sizes
                for top in offsets(size[0], height, step_y) for left in offsets(size[1], width, step_x)]

    def saliency_all(self, scorer: DetectionScorer, image: torch.Tensor, targets: Sequence[Target]) -> list[torch.Tensor]:
        shape = tuple(image.shape[-2:])
        windows = self.windows(*shape)
        scores = torch.zeros(len(targets), len(windows))
        found: dict[tuple[int, int], Target] = {}  # (target, window) -> the detection re-identifying it there
        follow = self._follow if scorer.rule.reidentifies else self._at_anchor
        for first, patches in self._patches(image, windows):
            index = first
            for outputs in scorer.detect_chunks(patches):
                rows = len(outputs.scores) if scorer.rule.reidentifies else outputs[1][0][0].shape[0]  # (detector, raw)
                for row in range(rows):
                    for k, target in enumerate(targets):
                        moved = self._into(target, windows[index], shape)
                        if moved is not None and (seen := follow(scorer, outputs, row, moved)) is not None:
                            scores[k, index], found[k, index] = seen
                    index += 1
        keep = math.ceil((1 - self.drop) * len(windows))
        kept: dict[int, list[int]] = {}  # window -> the targets it explains
        for k in range(len(targets)):
            for index in torch.argsort(scores[k], descending=True, stable=True)[:keep].tolist():
                if scores[k, index] > 0:
                    kept.setdefault(index, []).append(k)
        sums = torch.zeros(len(targets), *shape, device=image.device)
        counts = torch.zeros_like(sums)
        chosen = sorted(kept)
        for first, patches in self._patches(image, [windows[i] for i in chosen]):
            indices = chosen[first:first + len(patches)]
            maps = self.base.explain_batch(scorer, patches, [[found[k, index] for k in kept[index]] for index in indices])
            for index, window_maps in zip(indices, maps):
                for k, saliency in zip(kept[index], window_maps):
                    layer = self._paste(saliency * scores[k, index], windows[index], shape)
                    sums[k] += layer
                    counts[k] += layer > 0
        return list(torch.where(counts > 0, sums / counts.clamp(min=1), torch.zeros_like(sums)))

    @staticmethod
    def _follow(scorer: DetectionScorer, detections: Detections, row: int, moved: Target) -> tuple[float, Target] | None:
        """The rule's score of the moved target in window ``row`` and the detection re-identifying it."""
        one = detections.image(row)
        match = scorer.rule(one, moved)
        if int(match.index[0]) < 0:
            return None
        return float(match.scores[0]), Target.from_detections(one, rank=int(match.index[0]))

    @staticmethod
    def _at_anchor(scorer: DetectionScorer, outputs, row: int, moved: Target) -> tuple[float, Target]:
        """Under the anchor rule, which follows no detection: the target in the window is the anchor
        whose box best overlaps the moved box, scored by its class probability there."""
        anchors = scorer.detector.anchor_boxes[:, [1, 0, 3, 2]]  # effdet's yxyx as xyxy
        at_anchor = replace(moved, anchor=int(box_iou(moved.box[None].to(anchors), anchors)[0].argmax()))
        match = scorer.rule(outputs, at_anchor)
        score = float(match.scores[row])
        return score, replace(at_anchor, score=score, class_probs=match.vectors[row])

    def _into(self, target: Target, window: Window, shape: tuple[int, int]) -> Target | None:
        """The target with its box in the window's pixels, or None when too little of it is inside."""
        (height, width), (scaled_h, scaled_w) = shape, window.size
        box = target.box.float() * torch.tensor([scaled_w / width, scaled_h / height] * 2, device=target.box.device)
        box = box - torch.tensor([window.left, window.top] * 2, device=box.device)
        clipped = torch.stack([box[0].clamp(0, width), box[1].clamp(0, height), box[2].clamp(0, width), box[3].clamp(0, height)])
        area = (box[2] - box[0]) * (box[3] - box[1])
        inside = (clipped[2] - clipped[0]) * (clipped[3] - clipped[1])
        return target.moved(clipped) if area > 0 and inside >= self.min_inside * area else None

    @staticmethod
    def _patches(image: torch.Tensor, windows: Sequence[Window]) -> Iterator[tuple[int, torch.Tensor]]:
        """The windows' patches [n, C, H, W], one scale at a time (so memory holds one scaled
        image), each with the index of its first window."""
        height, width = image.shape[-2:]
        first = 0
        for size, group in itertools.groupby(windows, key=lambda window: window.size):
            group = list(group)
            scaled = image[None] if size == (height, width) else F.interpolate(
                image[None], size=size, mode="bilinear", align_corners=False)
            yield first, torch.cat([scaled[..., w.top:w.top + height, w.left:w.left + width] for w in group])
            first += len(group)

    @staticmethod
    def _paste(saliency: torch.Tensor, window: Window, shape: tuple[int, int]) -> torch.Tensor:
        """A window's map in a blank canvas of its scaled image, resized to the input."""
        canvas = saliency.new_zeros(window.size)
        canvas[window.top:window.top + shape[0], window.left:window.left + shape[1]] = saliency
        if window.size == shape:
            return canvas
        return F.interpolate(canvas[None, None], size=shape, mode="bilinear", align_corners=False)[0, 0]
