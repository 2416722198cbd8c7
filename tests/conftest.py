import os
import shutil
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits

from spectral_xai.cached_nets import trained_net
from spectral_xai.data_modules.synthetic import write_synthetic_dataset

from .helpers.margins import NET_SEED

# W&B must never reach for a network in tests; runs are real offline runs on disk.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# pytest-xdist runs the suite in several processes (pyproject's addopts); each takes its share of the
# cores, so that their torch threads do not contend. The environment variable carries the share to
# the subprocesses (explain.py, train.py under DDP) that tests start.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _threads = max(1, (os.cpu_count() or 1) // _workers)
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(_threads)
    torch.set_num_threads(_threads)
    # numpy's BLAS too (loaded with torch, before the variable was set): the statistics tests' matrix
    # products would otherwise spin a thread on the other process's core.
    threadpool_limits(_threads)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic dataset in the real layout, shared read-only by the tests."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "ir_det_dataset", num_scenes=24, seed=0)


@pytest.fixture(scope="session")
def trained_checkpoint() -> Path:
    """The one trained net that every test needing one shares: a MIR detector trained briefly on
    synthetic data (spectral_xai.cached_nets.SHARED_RECIPE), read from the content-keyed cache or
    trained into it by the first process to ask (about a minute; the others wait and read it)."""
    return trained_net("mir", seed=NET_SEED)


@pytest.fixture
def dataset_copy(synthetic_root, tmp_path) -> Path:
    """A private copy of the synthetic dataset that a test may dirty."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "ir_det_dataset"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The order in which pytest-xdist hands whole modules to its processes: modules with a slow test
    first, so that short ones fill in at the end. Of those, the first that needs the trained net
    leads (one process trains it) and the others that need it come last, so that the other process
    runs the slow modules that do not need it meanwhile instead of waiting for it."""
    slow = {item.module for item in items if item.get_closest_marker("slow")}
    trained = {item.module for item in items if "trained_checkpoint" in item.fixturenames}
    leader = next((item.module for item in items if item.module in slow & trained), None)

    def rank(item: pytest.Item) -> int:
        if item.module not in slow:
            return 3
        if item.module in trained:
            return 0 if item.module is leader else 2
        return 1

    items.sort(key=rank)
