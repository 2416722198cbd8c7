import os
import shutil
from pathlib import Path

import pytest

from spectral_xai.data_modules.synthetic import write_synthetic_dataset

# W&B must never reach for a network in tests; runs are real offline runs on disk.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic dataset in the real layout, shared read-only by the tests."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "ir_det_dataset", num_scenes=24, seed=0)


@pytest.fixture
def dataset_copy(synthetic_root, tmp_path) -> Path:
    """A private copy of the synthetic dataset that a test may dirty."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "ir_det_dataset"))
