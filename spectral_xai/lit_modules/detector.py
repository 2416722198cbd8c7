"""Building an effdet EfficientDet for any input channel count, with or without pretrained weights."""
from __future__ import annotations

import torch
from effdet import EfficientDet, get_efficientdet_config
from timm.models import adapt_input_conv

STEM_WEIGHT = "backbone.conv_stem.weight"


class PretrainedWeightsUnavailable(RuntimeError):
    """``pretrained: true`` but the weights could not be fetched (typically: no network)."""


def _download_state_dict(url: str, model_name: str) -> dict[str, torch.Tensor]:
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False)
    except Exception as err:  # urllib, http and ssl errors all mean the same thing to the user
        raise PretrainedWeightsUnavailable(
            f"pretrained weights for {model_name} could not be downloaded from {url} ({type(err).__name__}: {err}). "
            f"Set model.pretrained: false to train from scratch, or put the file in "
            f"{torch.hub.get_dir()}/checkpoints/ on a machine without network."
        ) from None


def build_efficientdet(
    model_name: str,
    num_classes: int,
    image_size: int,
    in_chans: int = 3,
    pretrained: bool = False,
    anchor_scale: float | None = None,
    bn_momentum: float | None = None,
) -> EfficientDet:
    """An EfficientDet whose anchors fit ``image_size`` and whose stem takes ``in_chans`` channels.

    effdet's ``create_model(in_chans=...)`` raises, so the channel count goes through the backbone
    arguments; pretrained 3-channel stem weights are adapted with timm's ``adapt_input_conv``.
    Never fetches backbone weights on its own (effdet's default would, and fail offline).
    ``anchor_scale`` (effdet: 4, i.e. 32-pixel anchors at P3) can be lowered for small inputs,
    whose objects are smaller than the smallest default anchor. ``bn_momentum`` (effdet: 0.01, the
    TensorFlow 0.99) can be raised for short runs: at 0.01 the running statistics that evaluation
    uses trail the weights by a few hundred steps.
    """
    config = get_efficientdet_config(model_name)
    config.image_size = (image_size, image_size)
    if anchor_scale is not None:
        config.anchor_scale = anchor_scale
    config.backbone_args = dict(config.backbone_args or {}, in_chans=in_chans)
    model = EfficientDet(config, pretrained_backbone=False)
    if pretrained:
        state = _download_state_dict(config.url, model_name)
        state[STEM_WEIGHT] = adapt_input_conv(in_chans, state[STEM_WEIGHT])
        model.load_state_dict(state)
    if num_classes != config.num_classes:
        model.reset_head(num_classes=num_classes)
    if bn_momentum is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.momentum = bn_momentum
    return model
