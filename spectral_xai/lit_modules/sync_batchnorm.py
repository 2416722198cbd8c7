"""Synchronised batch norm that keeps timm's fused activations under DDP.

Lightning's ``sync_batchnorm=True`` turns timm's ``BatchNormAct2d`` (norm + activation in one
module, 48 of them in EfficientDet-D0) into a plain ``SyncBatchNorm`` and so silently drops the
activations. ``timm.layers.convert_sync_batchnorm`` keeps them; this plugin makes Lightning use it.
Use it as ``trainer.plugins: [spectral_xai.lit_modules.TimmSyncBatchNorm]``, not with
``sync_batchnorm: true``.
"""
from __future__ import annotations

import torch
from pytorch_lightning.plugins.layer_sync import LayerSync
from timm.layers import BatchNormAct2d, SyncBatchNormAct, convert_sync_batchnorm
from torch.nn import Module


def _copy_state(source: torch.nn.modules.batchnorm._BatchNorm, target: torch.nn.modules.batchnorm._BatchNorm) -> None:
    if source.affine:
        target.weight, target.bias = source.weight, source.bias
    target.running_mean, target.running_var = source.running_mean, source.running_var
    target.num_batches_tracked = source.num_batches_tracked
    target.training = source.training


def revert_sync_batchnorm(module: Module) -> Module:
    """Inverse of timm's conversion: SyncBatchNormAct -> BatchNormAct2d, SyncBatchNorm -> BatchNorm2d."""
    output = module
    if isinstance(module, SyncBatchNormAct):
        output = BatchNormAct2d(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        output.act, output.drop = module.act, module.drop
        _copy_state(module, output)
    elif isinstance(module, torch.nn.SyncBatchNorm):
        output = torch.nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        _copy_state(module, output)
    for name, child in module.named_children():
        output.add_module(name, revert_sync_batchnorm(child))
    return output


class TimmSyncBatchNorm(LayerSync):
    def apply(self, model: Module) -> Module:
        return convert_sync_batchnorm(model)

    def revert(self, model: Module) -> Module:
        return revert_sync_batchnorm(model)
