"""The dataset on disk (real layout or its synthetic twin) -> batches for one fusion mode."""
from .datamodule import MultispectralDataModule, input_channels
from .dataset import MultispectralDetectionDataset, collate
from .reader import DatasetError, index_dataset, split_ids

__all__ = ["MultispectralDataModule", "input_channels", "MultispectralDetectionDataset", "collate", "DatasetError",
           "index_dataset", "split_ids"]
