from .efficientdet import EfficientDetModule, TrainingDiverged
from .sync_batchnorm import TimmSyncBatchNorm

__all__ = ["EfficientDetModule", "TimmSyncBatchNorm", "TrainingDiverged"]
