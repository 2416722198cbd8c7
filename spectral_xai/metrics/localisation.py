"""Does a map point at its object, and at no other? The localisation scores of ODAM (Zhao & Chan
2023) for one detection's map: pointing game, energy-based pointing game and the object
discrimination index.

The detection is judged against its ground-truth box: the annotated object of its class that it
overlaps most (IoU >= ``min_iou``); a detection matching no annotation (an unannotated image) is
judged against its own box. A target of kind ``false_positive`` is judged against the annotated
object of any class that it overlaps most (a net confusing one class for another should look at
that object), and against its own box, as ``background``, where it overlaps none. The other
objects are every other annotated box.
A pixel belongs to a box when its centre lies inside it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
from torchvision.ops import box_iou

from ..detection import Target
from .registry import Metric, ScoredMap, register


@dataclass(frozen=True)
class Localisation:
    pointing_game: float  # 1: the map's maximum lies in the box, 0: it does not; NaN: a blank map
    energy_pointing_game: float  # share of the map's sum inside the box; NaN: a blank map
    odi: float  # share of the saliency in objects' boxes that lies in other objects' boxes (lower is better)
    # Which box the target was judged against: "annotation" (of its class), "other_class" (a false
    # positive on an object of another class), "background" (a false positive on no object) or
    # "detection" (its own box: no annotation to judge it by).
    against: str


def box_mask(box: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """[H, W] True where a pixel's centre lies inside ``box`` (x1 y1 x2 y2)."""
    ys = torch.arange(shape[0], device=box.device) + 0.5
    xs = torch.arange(shape[1], device=box.device) + 0.5
    rows = (ys >= box[1]) & (ys <= box[3])
    cols = (xs >= box[0]) & (xs <= box[2])
    return rows[:, None] & cols[None, :]


def judged_box(target: Target, annotated_boxes: torch.Tensor, annotated_labels: torch.Tensor, min_iou: float = 0.5
               ) -> tuple[torch.Tensor, str, torch.Tensor]:
    """The box ``target`` is judged against, which it is (``Localisation.against``), and which of the
    annotated boxes [N, 4] (0-based ``annotated_labels`` [N]) are the other objects."""
    device = annotated_boxes.device
    boxes = annotated_boxes.reshape(-1, 4).to(torch.float32)
    labels = annotated_labels.reshape(-1).to(device)
    own, against = target.box.to(device, torch.float32), "detection"
    others = torch.ones(len(boxes), dtype=torch.bool, device=device)
    if target.kind == "false_positive":
        against = "background"
        if len(boxes):
            iou = box_iou(own[None], boxes)[0]
            best = int(iou.argmax())
            if iou[best] > 0:
                own, against = boxes[best], "annotation" if int(labels[best]) == target.label else "other_class"
                others[best] = False
    elif len(boxes):
        iou = box_iou(own[None], boxes)[0]
        iou = torch.where(labels == target.label, iou, torch.full_like(iou, -1.0))
        best = int(iou.argmax())
        if iou[best] >= min_iou:
            own, against = boxes[best], "annotation"
            others[best] = False
    return own, against, others


def localisation(saliency: torch.Tensor, target: Target, annotated_boxes: torch.Tensor, annotated_labels: torch.Tensor,
                 min_iou: float = 0.5) -> Localisation:
    """The scores of ``saliency`` [H, W] (non-negative) for ``target`` in an image annotated with
    ``annotated_boxes`` [N, 4] (input pixels) and their 0-based ``annotated_labels`` [N].

    Pointing game: where several pixels share the maximum (a plateau), most of them must lie in
    the box. ODI is 0 when there is no other object, NaN when no object's box holds any saliency."""
    shape = tuple(saliency.shape)
    boxes = annotated_boxes.reshape(-1, 4).to(saliency.device, torch.float32)
    own, against, others = judged_box(target, boxes, annotated_labels.to(saliency.device), min_iou)
    inside = box_mask(own, shape)
    elsewhere = torch.zeros(shape, dtype=torch.bool, device=saliency.device)
    for box in boxes[others]:
        elsewhere |= box_mask(box, shape)
    total = float(saliency.sum())
    if total <= 0:
        return Localisation(math.nan, math.nan, math.nan, against)
    peak = saliency == saliency.max()
    pointing = float(inside[peak].float().mean() > 0.5)
    energy = float(saliency[inside].sum()) / total
    in_objects = float(saliency[inside | elsewhere].sum())
    odi = float(saliency[elsewhere].sum()) / in_objects if in_objects > 0 else math.nan
    return Localisation(pointing, energy, odi, against)


def localised(scored: ScoredMap, score: str) -> float:
    """One of the map's localisation scores, the three computed once per map."""
    if "localisation" not in scored.shared:
        scored.shared["localisation"] = localisation(scored.saliency, scored.target, scored.annotated_boxes,
                                                     scored.annotated_labels)
    return getattr(scored.shared["localisation"], score)


register(Metric("pointing_game", "annotations", False, partial(localised, score="pointing_game"), "pointing game",
                "pointing", same_property_as="energy_pointing_game"))
register(Metric("energy_pointing_game", "annotations", False, partial(localised, score="energy_pointing_game"),
                "energy pointing game", "energy PG"))
register(Metric("odi", "annotations", True, partial(localised, score="odi"), "object discrimination index", "ODI"))
