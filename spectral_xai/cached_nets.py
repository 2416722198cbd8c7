"""Detectors trained briefly on synthetic data, cached by content: the nets the tests and benchmarks
run on, trained once per machine rather than once per run.

A cached net's key is a hash of everything that decides its weights: the recipe (config file and
arguments), the synthetic data's settings and the source that writes them, the source of the data,
model and CLI modules, the versions of the libraries that compute them, and the torch thread count it
is trained at (fixed here, whatever the caller's: another count sums gradients in another order). A
key that exists is read, never retrained; a change to any of those makes a new key.

The cache lives in ``$SPECTRAL_XAI_CACHE``, else ``~/.cache/spectral-xai``. A folder that cannot be
written falls back to one in the temporary folder (one warning); an entry whose files do not match
the digest written when it was made (a file cut short, changed or removed) is rebuilt (one warning).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Sequence

import torch
from filelock import FileLock

from .settings import CACHE_VARIABLE, cache_dir  # noqa: F401  (where callers find them)

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
DEMO_CONFIG = PACKAGE.parent / "configs" / "demo.yaml"
#: torch threads every cached net is trained at.
TRAIN_THREADS = 2
#: The source whose change changes a net: what reads the data, builds and trains the model, and the CLI.
WEIGHT_SOURCES = ("data_modules", "lit_modules", "detection", "train_cli.py", "callbacks/preemption.py",
                  "callbacks/run_record.py", "settings.py", "checkpoint.py")
#: Files under WEIGHT_SOURCES that only explaining reads: a change there leaves every trained net as it was.
EXPLAIN_ONLY = ("data_modules/known_causes.py",)
LIBRARIES = ("torch", "effdet", "timm", "albumentations", "numpy", "opencv-python-headless", "pytorch-lightning",
             "torchmetrics")
#: The shared net's recipe, pinned here (raw weights, AdamW at 0.004, 8 epochs, no callbacks or
#: logger) so that retuning the demo does not silently change what the tests and benchmarks see.
SHARED_RECIPE = ("--trainer.max_epochs", "8", "--model.scheduler.init_args.milestones", "[6]",
                 "--trainer.callbacks", "[]", "--model.ema_decay", "null", "--model.optimizer.init_args.lr", "0.004",
                 "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", "--data.num_workers", "0")
SHARED_DATA = {"num_scenes": 140, "seed": 0}
MANIFEST = "manifest.json"


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def source_digest(names: Sequence[str], leave_out: Sequence[str] = ()) -> str:
    """Hash of the package files under ``names`` (files or folders), path and content, but those in ``leave_out``."""
    hasher = hashlib.sha256()
    skipped = {PACKAGE / name for name in leave_out}
    for name in names:
        path = PACKAGE / name
        for file in sorted(set(path.rglob("*.py")) - skipped) if path.is_dir() else [path]:
            hasher.update(str(file.relative_to(PACKAGE)).encode())
            hasher.update(file.read_bytes())
    return hasher.hexdigest()


def tree_digest(folder: Path) -> str:
    """Hash of every file under ``folder`` but the manifest, path and content."""
    hasher = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        hasher.update(str(file.relative_to(folder)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
    return hasher.hexdigest()


def _complete(folder: Path) -> bool:
    """Whether ``folder`` is a finished entry whose files match the digest recorded when it was made."""
    try:
        return json.loads((folder / MANIFEST).read_text())["sha256"] == tree_digest(folder)
    except (OSError, ValueError, KeyError):
        return False


def _build(folder: Path, make: Callable[[Path], object]) -> Path:
    """``folder``, made by ``make(scratch)`` in a scratch folder beside it under a file lock (other
    processes wait, then read it) and moved into place whole, the digest of its files written last."""
    with FileLock(f"{folder}.lock"):
        if not _complete(folder):
            if folder.exists():
                log.warning("cache entry %s is incomplete or damaged; rebuilding it", folder)
                shutil.rmtree(folder)
            scratch = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
            try:
                make(scratch)
                (scratch / MANIFEST).write_text(json.dumps({"sha256": tree_digest(scratch)}))
                scratch.rename(folder)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return folder


#: What writes a synthetic dataset, and what those modules import: a change to any of them writes it anew.
DATASET_SOURCES = ("data_modules/synthetic.py", "data_modules/draw.py", "data_modules/render.py",
                   "data_modules/scene_files.py", "data_modules/voc.py", "data_modules/layout.py",
                   "data_modules/reader.py", "data_modules/images.py", "data_modules/sequences.py")


def synthetic_dataset(num_scenes: int, seed: int, known_cause: bool = False, cue_free: bool = False) -> Path:
    """A synthetic dataset in the real layout (``known_cause``: the known-cause variant; ``cue_free``:
    its scenes with every cue off), written once per settings; callers must not write to it."""
    from .data_modules.synthetic import write_synthetic_dataset

    key = digest(num_scenes, seed, known_cause, cue_free, source_digest(DATASET_SOURCES), _versions())
    variant = "-known-cause" if known_cause else ""
    name = f"synthetic{variant}{'-cue-free' if cue_free else ''}-{num_scenes}-{seed}-{key}"
    return _build(cache_dir() / "datasets" / name, lambda scratch: write_synthetic_dataset(
        scratch, num_scenes=num_scenes, seed=seed, known_cause=known_cause, cue_free=cue_free))


def trained_net(spectra: str | Sequence[str] = "mir", seed: int = 0, args: Sequence[str] = SHARED_RECIPE,
                data: dict = SHARED_DATA, config: Path = DEMO_CONFIG) -> Path:
    """The ``checkpoints/last.ckpt`` (``split.json`` beside it) of ``config`` plus ``args``, trained
    on ``spectra`` (one name or several) of a cached synthetic dataset (``data``: its ``num_scenes``
    and ``seed``, and optionally ``known_cause`` and ``cue_free``) with ``--seed_everything seed`` at ``TRAIN_THREADS`` torch threads: from the cache,
    or trained now (about a minute for the shared recipe on 2 cores) and kept. The entry's folder,
    which names the net in reports, starts with the spectra and the seed."""
    spectra = [spectra] if isinstance(spectra, str) else list(spectra)
    root = synthetic_dataset(**data)
    key = digest(config.read_text(), list(args), "+".join(spectra), seed, str(root), source_digest(WEIGHT_SOURCES, EXPLAIN_ONLY),
                 _versions(), TRAIN_THREADS)
    folder = cache_dir() / "nets" / f"{'_'.join(spectra)}-seed{seed}-{key}"
    return _build(folder, lambda scratch: _train(scratch, config, args, spectra, seed, root)) / "checkpoints" / "last.ckpt"


def _train(scratch: Path, config: Path, args: Sequence[str], spectra: list[str], seed: int, root: Path) -> None:
    from .train_cli import SpectralCLI
    from .data_modules.datamodule import MultispectralDataModule
    from .lit_modules import EfficientDetModule

    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        SpectralCLI(EfficientDetModule, MultispectralDataModule, save_config_kwargs={"overwrite": True}, args=[
            "fit", "--config", str(config), "--data.root", str(root), "--data.spectra", f"[{', '.join(spectra)}]",
            "--seed_everything", str(seed), *args,
            "--trainer.default_root_dir", str(scratch / "run"), "--checkpoint.dirpath", str(scratch / "checkpoints"),
        ])
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(scratch / "run", ignore_errors=True)
    for best in (scratch / "checkpoints").glob("epoch*.ckpt"):  # only last.ckpt is used
        best.unlink()


def _versions() -> dict[str, str]:
    return {name: version(name) for name in LIBRARIES}
