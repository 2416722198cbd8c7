"""An EfficientDet seen as a detector that remembers where each detection came from.

effdet's ``_post_process`` takes the top-k over anchor x class (``anchor = idx // C``,
``class = idx % C``, levels P3..P7 concatenated) and ``generate_detections`` decodes, applies
sigmoid and batched NMS, keeps ``max_det_per_image`` and drops the indices. :meth:`EffdetDetector.decode`
repeats those steps (as effdet's evaluation does them: boxes clipped to the input before NMS) but
keeps the anchor of every kept detection, so that a gradient method can
back-propagate from the detection's own logit (:meth:`EffdetDetector.logit`) and a scoring rule can
read the detection's full class-probability vector. It is the project's one decoder: validation
mAP, ``EfficientDetModule.detect``, the explainers and the metrics all read its :class:`Detections`,
whose labels are 0-based (effdet's 1-based labels live only inside its loss).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields, replace
from typing import Callable

import torch
from effdet.anchors import decode_box_outputs
from torch import nn
from torchvision.ops import batched_nms, box_iou

from .runtime import ExportFailed, OnnxPasses, Raw, has_hooks, resolve_runtime

log = logging.getLogger(__name__)


@dataclass
class Detections:
    """Up to K detections per image, best first; rows past ``count`` are padding (label -1)."""

    boxes: torch.Tensor  # [B, K, 4] x1 y1 x2 y2, input pixels
    scores: torch.Tensor  # [B, K]
    labels: torch.Tensor  # [B, K] 0-based class, -1 for padding
    class_probs: torch.Tensor  # [B, K, C] sigmoid of every class logit at the detection's anchor
    anchors: torch.Tensor  # [B, K] flat anchor index over P3..P7, -1 for padding

    def image(self, index: int) -> "Detections":
        """Image ``index``'s detections as a batch of one."""
        return Detections(*(getattr(self, f.name)[index:index + 1] for f in fields(self)))


#: What a target is: a detection the net made, an annotated object it missed, or a detection
#: with no annotated object of its class behind it.
TARGET_KINDS = ("detection", "missed", "false_positive")


@dataclass(frozen=True)
class Target:
    """One thing to explain, in the input pixels of its image: a detection (``box``, ``score`` and
    ``anchor`` its own) or, for a ``missed`` object, the annotated box, the best score the net gave
    that object (0 when nothing of its class overlapped it) and the anchor whose decoded box
    overlaps it most, whose class logit gradient methods explain."""

    box: torch.Tensor  # [4] x1 y1 x2 y2
    label: int  # 0-based
    score: float
    class_probs: torch.Tensor  # [C]
    anchor: int
    kind: str = "detection"  # one of TARGET_KINDS

    @classmethod
    def from_detections(cls, detections: Detections, image: int = 0, rank: int = 0, kind: str = "detection") -> "Target":
        if int(detections.labels[image, rank]) < 0:
            raise ValueError(f"image {image} has no detection at rank {rank}")
        return cls(
            box=detections.boxes[image, rank].detach(),
            label=int(detections.labels[image, rank]),
            score=float(detections.scores[image, rank]),
            class_probs=detections.class_probs[image, rank].detach(),
            anchor=int(detections.anchors[image, rank]),
            kind=kind,
        )

    def moved(self, box: torch.Tensor) -> "Target":
        """The same detection with its box elsewhere (in another frame: a crop, a rescaled copy)."""
        return replace(self, box=box)

    def cpu(self) -> "Target":
        return replace(self, box=self.box.cpu(), class_probs=self.class_probs.cpu())


class EffdetDetector(nn.Module):
    """Wraps anything shaped like effdet's ``EfficientDet`` (``net(images) -> (class logits per
    level [B, A*C, H, W], box regressions per level [B, A*4, H, W])``) with its anchors.
    ``image_size`` (H, W): boxes are clipped to it before NMS, as effdet does when it evaluates.
    ``memory_format``: the layout of the net's conv weights, which images are given in (a net in
    ``torch.channels_last`` runs its convolutions much faster on both CPUs and GPUs when its input is
    laid out alike, see :meth:`EfficientDetModule.use_channels_last`)."""

    def __init__(self, net: nn.Module, anchor_boxes: torch.Tensor, num_classes: int,
                 max_detection_points: int = 5000, max_det_per_image: int = 100, nms_iou: float = 0.5,
                 image_size: tuple[int, int] | None = None, memory_format: torch.memory_format = torch.contiguous_format):
        super().__init__()
        self.net = net
        self.register_buffer("anchor_boxes", anchor_boxes, persistent=False)  # yxyx, as effdet
        limit = None if image_size is None else torch.tensor([image_size[1], image_size[0]] * 2, dtype=torch.float32)
        self.register_buffer("box_limit", limit, persistent=False)  # W H W H
        self.num_classes = num_classes
        self.max_detection_points = max_detection_points
        self.max_det_per_image = max_det_per_image
        self.nms_iou = nms_iou
        self.memory_format = memory_format
        self.compiling = False  # see compile_passes
        # (id of the net it was made for, the compiled forward): a deep copy (the sanity check's
        # randomised nets) keeps the id of the original and so compiles its own.
        self._compiled: tuple[int, Callable] | None = None
        self.compile_seconds: float | None = None  # the first compiled pass, compilation and all
        self.compiled_batch = 0  # the batch size every compiled pass is padded to
        self.onnx: OnnxPasses | None = None  # see use_runtime

    def raw(self, images: torch.Tensor) -> Raw:
        class_out, box_out = self.net(images.contiguous(memory_format=self.memory_format))
        return list(class_out), list(box_out)

    def compile_passes(self) -> "EffdetDetector":
        """Run :meth:`passes` through ``torch.compile`` of the net's forward from now on (gradient
        methods keep the eager net: their hooks and backward passes are not what compiling speeds
        up). Compiling happens at the first pass, for its batch size; every later chunk is padded to
        the largest batch size yet (the padding's outputs dropped), so the net compiles again only for
        a larger chunk than any before (a scorer's chunks are at most its ``batch_size``). A net that
        cannot be compiled falls back to eager, with one warning."""
        self.compiling = True
        return self

    def use_runtime(self, runtime: str, precision: str = "32") -> "EffdetDetector":
        """Run :meth:`passes` on ``runtime`` from now on (see :mod:`~spectral_xai.detection.runtime`;
        ``auto``: ONNX Runtime for full-precision passes on a CPU, unless they are compiled);
        returns the detector."""
        chosen = resolve_runtime(runtime, self.anchor_boxes.device, precision, self.compiling)
        self.onnx = OnnxPasses() if chosen == "onnxruntime" else None
        return self

    @torch.no_grad()
    def passes(self, images: torch.Tensor) -> Raw:
        """:meth:`raw` for passes that need no gradient (perturbation methods, the metric), on the
        runtime :meth:`use_runtime` chose or through the compiled net where :meth:`compile_passes`
        asked for it."""
        if self.onnx is not None and not self.net.training and not has_hooks(self.net):
            try:
                return self.onnx(self.net, images)
            except ExportFailed as error:  # a net the runtime cannot take is explained in torch
                log.warning("%s; the perturbation passes run in torch", error)
                self.onnx = None
        if not self.compiling:
            return self.raw(images)
        if self._compiled is None or self._compiled[0] != id(self.net):
            self._compiled, self.compile_seconds = (id(self.net), torch.compile(self.net.forward, dynamic=False)), None
            self.compiled_batch = len(images)
        # Every chunk padded to one batch size (the largest yet), the padding's outputs dropped: the
        # graph compiled for it serves every pass, where each new batch size would compile anew.
        count, self.compiled_batch = len(images), max(self.compiled_batch, len(images))
        padded = images if count == self.compiled_batch else torch.cat(
            [images, images[-1:].expand(self.compiled_batch - count, *images.shape[1:])])
        start = time.perf_counter()
        try:
            class_out, box_out = self._compiled[1](padded.contiguous(memory_format=self.memory_format))
        except Exception as error:  # a backend missing on this machine must not stop the explanation
            log.warning("torch.compile failed (%s: %s); the perturbation passes run eagerly", type(error).__name__, error)
            self.compiling, self._compiled = False, None
            return self.raw(images)
        if self.compile_seconds is None:
            self.compile_seconds = time.perf_counter() - start
            log.info("compiled the net for the perturbation passes in %.1f s (paid once per net)", self.compile_seconds)
        return [out[:count] for out in class_out], [out[:count] for out in box_out]

    def decode(self, raw: Raw, min_score: float = 0.0) -> Detections:
        """effdet's post-processing. ``min_score`` drops candidates scoring below it before NMS:
        greedy NMS visits boxes best first, so a dropped box could only have suppressed boxes below
        ``min_score`` too, and the detections at or above it are exactly effdet's. With thousands of
        low-scoring candidates per image NMS costs more than the network on a CPU, so a caller that
        ignores low scores anyway (the paper's re-identification rule) should say so here."""
        class_out, box_out = raw
        batch, c = class_out[0].shape[0], self.num_classes
        cls_all = torch.cat([o.permute(0, 2, 3, 1).reshape(batch, -1, c) for o in class_out], 1)
        box_all = torch.cat([o.permute(0, 2, 3, 1).reshape(batch, -1, 4) for o in box_out], 1)
        k = min(self.max_detection_points, cls_all.shape[1] * c)
        top_logits, top = torch.topk(cls_all.reshape(batch, -1), dim=1, k=k)
        top_scores = top_logits.sigmoid().float()
        out = self._empty(batch, cls_all)
        logits = torch.zeros_like(out.class_probs, dtype=cls_all.dtype)
        for b in range(batch):  # NMS is per image, as in effdet
            anchors, classes = top[b] // c, top[b] % c
            # Boxes are decoded for every candidate, as effdet does, so that the floor cannot change
            # how a box rounds (vectorised float maths may round differently for another length).
            boxes = decode_box_outputs(box_all[b, anchors].float(), self.anchor_boxes[anchors], output_xyxy=True)
            if self.box_limit is not None:
                boxes = boxes.clamp(min=0).min(self.box_limit)
            kept = (top_scores[b] >= min_score).nonzero()[:, 0]
            keep = kept[batched_nms(boxes[kept], top_scores[b, kept], classes[kept], iou_threshold=self.nms_iou)]
            keep = keep[: self.max_det_per_image]
            n = len(keep)
            out.boxes[b, :n], out.scores[b, :n], out.labels[b, :n] = boxes[keep], top_scores[b, keep], classes[keep]
            out.anchors[b, :n] = anchors[keep]
            logits[b, :n] = cls_all[b, anchors[keep]]
        out.class_probs = torch.where(out.labels[..., None] >= 0, logits.sigmoid().float(), out.class_probs)
        return out

    def _empty(self, batch: int, like: torch.Tensor) -> Detections:
        k, device = self.max_det_per_image, like.device
        return Detections(
            boxes=torch.zeros(batch, k, 4, device=device),
            scores=torch.zeros(batch, k, device=device),
            labels=torch.full((batch, k), -1, dtype=torch.long, device=device),
            class_probs=torch.zeros(batch, k, self.num_classes, device=device),
            anchors=torch.full((batch, k), -1, dtype=torch.long, device=device),
        )

    def forward(self, images: torch.Tensor, min_score: float = 0.0) -> Detections:
        return self.decode(self.raw(images), min_score)

    def locate(self, raw: Raw, anchor: int) -> tuple[int, int, int, int]:
        """Flat anchor index -> (level, anchor within cell, y, x), effdet's [H, W, A] flattening."""
        class_out = raw[0]
        per_cell = class_out[0].shape[1] // self.num_classes
        offset = 0
        for level, out in enumerate(class_out):
            h, w = out.shape[-2:]
            size = h * w * per_cell
            if anchor < offset + size:
                cell, a = divmod(anchor - offset, per_cell)
                return level, a, cell // w, cell % w
            offset += size
        raise IndexError(f"anchor {anchor} beyond the {offset} anchors of this detector")

    def anchor_boxes_decoded(self, raw: Raw, image: int = 0) -> torch.Tensor:
        """Every anchor's box [A, 4] (x1 y1 x2 y2, clipped as :meth:`decode` clips) in image ``image``."""
        box_out = raw[1]
        codes = torch.cat([o[image:image + 1].permute(0, 2, 3, 1).reshape(-1, 4) for o in box_out])
        boxes = decode_box_outputs(codes.float(), self.anchor_boxes, output_xyxy=True)
        return boxes if self.box_limit is None else boxes.clamp(min=0).min(self.box_limit)

    def best_anchor(self, raw: Raw, box: torch.Tensor, image: int = 0) -> int:
        """The anchor whose decoded box overlaps ``box`` most, over every level: where the net
        would have put a detection of an object it missed."""
        return int(box_iou(box[None].to(self.anchor_boxes), self.anchor_boxes_decoded(raw, image))[0].argmax())

    def missed_target(self, raw: Raw, box: torch.Tensor, label: int, score: float, image: int = 0) -> Target:
        """An annotated object the net missed, as a :class:`Target` of kind ``missed`` at its best anchor."""
        anchor = self.best_anchor(raw, box, image)
        level, a, y, x = self.locate(raw, anchor)
        c = self.num_classes
        probs = raw[0][level][image, a * c:(a + 1) * c, y, x].detach().float().sigmoid()
        return Target(box=box.detach().float(), label=int(label), score=float(score), class_probs=probs, anchor=anchor,
                      kind="missed")

    def logit(self, raw: Raw, target: Target, image: int = 0) -> torch.Tensor:
        """The target's own class logit in ``raw``, differentiable to the input."""
        level, a, y, x = self.locate(raw, target.anchor)
        return raw[0][level][image, a * self.num_classes + target.label, y, x]

    def box(self, raw: Raw, target: Target, image: int = 0) -> torch.Tensor:
        """The target's own box [4] (x1 y1 x2 y2, before clipping to the image) decoded from its
        anchor's regression in ``raw`` with effdet's decoder, differentiable to the input."""
        level, a, y, x = self.locate(raw, target.anchor)
        codes = raw[1][level][image, a * 4:(a + 1) * 4, y, x]  # effdet's order: ty tx th tw
        return decode_box_outputs(codes[None].float(), self.anchor_boxes[target.anchor][None], output_xyxy=True)[0]
