from .efficientdet import EfficientDetModule
from .sync_batchnorm import TimmSyncBatchNorm

__all__ = ["EfficientDetModule", "TimmSyncBatchNorm"]
