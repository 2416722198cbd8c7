"""The LightningDataModule: dataset root + spectra + fusion + split -> train/val/test loaders."""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, get_worker_info

from . import layout
from .dataset import Fusion, MultispectralDetectionDataset, collate
from .sequences import Sequences
from .reader import DatasetError, SkipReport, Split, SplitName, index_dataset, restrict_split, split_ids
from ..settings import check_image_size
from .transforms import IMAGENET_MEAN, IMAGENET_STD, build_transform

log = logging.getLogger(__name__)


def input_channels(spectra: Sequence[str], fusion: Fusion) -> int:
    """Channels of the network input: 3, or 3 per spectrum when spectra are stacked."""
    return 3 * len(spectra) if fusion == "early" else 3


def augmentation_seed(rank: int) -> int:
    """The seed of one process's augmentations, from torch's seed of that process: in the main
    process the run's (``seed_everything``; random when the run sets none), in a data-loader worker
    the loader's seed for that worker (drawn from the main process's generator, so seeded too, and
    drawn anew each epoch unless workers persist). The rank is mixed in because every DDP rank is
    seeded alike and would otherwise draw the same flips for different images."""
    return int(np.random.SeedSequence([torch.initial_seed(), rank]).generate_state(1)[0])


def reseed_worker_augmentation(worker_id: int, rank: int) -> None:
    """``worker_init_fn``: each worker starts with a copy of the main process's augmentation state,
    so without a new seed every worker would repeat the same draws."""
    get_worker_info().dataset.transform.set_random_seed(augmentation_seed(rank))


class MultispectralDataModule(pl.LightningDataModule):
    """Everything about the input pipeline is a constructor argument, saved in the checkpoint's
    ``datamodule_hyper_parameters``, so a checkpoint alone rebuilds it (see ``checkpoint.py``).

    Args:
        root: dataset folder in the layout of docs/dataset.md; stored absolute, so that a
            checkpoint finds its data from any working directory.
        spectra: any of rgb, nir, mir, fir.
        fusion: ``mixed`` (one 3-channel net, each spectrum a separate sample) or ``early``
            (spectra stacked, 3 channels each).
        image_size: square network input in pixels; a multiple of 128 (effdet's anchors).
        split: ``random`` (seeded, ``test_fraction`` of ids), ``blocked`` (the same over runs of
            consecutive frames, each kept whole in one part), ``vis_ok`` or ``file`` (``split_file``).
            Scenes are split: the parts are made of every annotated id, whatever the spectra, and
            each part is then restricted to the ids readable for ``spectra``; so nets of different
            spectra share one split. The split made is kept in checkpoints (``state_dict``) and
            reused when the data module is restored from one.
        split_file: a JSON file of parts (train.py's ``split.json``) or a folder of ``train.txt``,
            ``val.txt``, ``test.txt``; read when ``split`` is ``file``.
        val_fraction: share of the non-test ids held out for validation (unless the split file
            gives a val part).
        sequence_length, sequence_gap, sequences_file: the runs of a ``blocked`` split: from
            ``sequences_file`` (``sample_id,sequence`` rows; default ``<root>/sequences.csv`` where
            it exists), else consecutive numeric ids, a new run
            where the next id is more than ``sequence_gap`` on, cut into at most ``sequence_length`` frames.
        mean, std: per-channel normalisation of one 3-channel spectrum (tiled for early fusion).
        class_names: the classes to read from the annotations, in label order; other names are
            dropped (counted). train.py gives the model these same names.
        synthetic: if given (``{"num_scenes": N, "seed": S}``) and ``root`` holds no annotations,
            a synthetic dataset in the real layout is written there first.
    """

    def __init__(
        self,
        root: str,
        spectra: Sequence[str] = ("rgb",),
        fusion: Fusion = "mixed",
        image_size: int = 512,
        split: SplitName = "random",
        split_file: str | None = None,
        test_fraction: float = 0.2,
        val_fraction: float = 0.1,
        seed: int = 0,
        sequence_length: int | None = None,
        sequence_gap: int = 1,
        sequences_file: str | None = None,
        batch_size: int = 8,
        num_workers: int = 2,
        augment: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        image_dir: str = layout.CONVERTED_IMAGES,
        annotation_dir: str = layout.CONVERTED_ANNOTATIONS,
        class_names: Sequence[str] = layout.CLASS_NAMES,
        synthetic: dict | None = None,
    ):
        super().__init__()
        check_image_size("data", image_size)
        if fusion not in ("mixed", "early"):
            raise ValueError(f"fusion {fusion!r} must be 'mixed' or 'early'")
        if len(mean) != 3 or len(std) != 3:
            raise ValueError("mean and std are given for one 3-channel spectrum (3 values each)")
        self.save_hyperparameters()
        # Stored absolute, so that a checkpoint finds its data from any working directory. Set after
        # save_hyperparameters: under LightningCLI it records the arguments as the config gave them.
        self.hparams.root = str(Path(root).expanduser().resolve())
        self.spectra = list(spectra)
        self.fusion = fusion
        self.class_names = list(class_names)
        self.in_chans = input_channels(self.spectra, fusion)
        self.skip_report: SkipReport | None = None
        self.samples_read: int | None = None  # samples the index found readable for the spectra
        self.split: Split | None = None  # parts of annotated ids, before restriction to readable ones
        self.datasets: dict[str, MultispectralDetectionDataset] = {}

    def prepare_data(self) -> None:
        root = Path(self.hparams.root)
        if self.hparams.synthetic is not None and not (root / self.hparams.annotation_dir).is_dir():
            # Imported here: `python -m spectral_xai.data_modules.synthetic` runs that module as a script.
            from .synthetic import write_synthetic_dataset

            log.info("writing a synthetic dataset to %s", root)
            write_synthetic_dataset(root, **self.hparams.synthetic)

    @property
    def rank(self) -> int:
        return self.trainer.global_rank if self.trainer is not None else 0

    def transform(self, train: bool):
        repeat = self.in_chans // 3
        return build_transform(
            self.hparams.image_size, self.in_chans, list(self.hparams.mean) * repeat, list(self.hparams.std) * repeat,
            train=train and self.hparams.augment, seed=augmentation_seed(self.rank),
        )

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        hp = self.hparams
        index = index_dataset(hp.root, self.spectra, self.class_names, hp.image_dir, hp.annotation_dir)
        self.skip_report, self.samples_read = index.report, len(index.records)
        if self.fusion == "early" and len({r.size_wh for r in index.records}) > 1:
            raise DatasetError(f"{hp.root}: early fusion needs images of one size; found several")
        if self.split is None:
            self.split = split_ids(hp.root, index.annotated_ids, hp.split, hp.test_fraction, hp.val_fraction,
                                   hp.seed, hp.split_file, self.sequences())
        by_id = {r.sample_id: r for r in index.records}
        for name, ids in restrict_split(self.split, list(by_id), hp.root).items():
            self.datasets[name] = MultispectralDetectionDataset(
                [by_id[i] for i in ids], self.spectra, self.fusion, self.transform(train=name == "train")
            )
        log.info("split %r: %s", hp.split, {k: len(v) for k, v in self.datasets.items()})

    @property
    def parts(self) -> Split:
        """The ids this net uses in each part: the split restricted to the ids it can read."""
        return {name: dataset.sample_ids for name, dataset in self.datasets.items()}

    def sequences(self) -> Sequences:
        """The runs of frames of a ``blocked`` split; a dataset that says its runs (``sequences.csv``,
        as the synthetic writer's sequences do) is read unless told otherwise."""
        hp = self.hparams
        given = Path(hp.root) / layout.SEQUENCES
        found = str(given) if given.is_file() and hp.sequence_length is None else None
        return Sequences(hp.sequence_length, hp.sequence_gap, hp.sequences_file or found)

    def state_dict(self) -> dict:
        """Saved in every checkpoint: the split of scenes, so that explaining the net later, on any
        spectrum, uses the scenes it was tested on and never the ones it was trained on."""
        return {"split": self.split}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get("split") is not None:
            self.split = {name: list(ids) for name, ids in state_dict["split"].items()}
            if self.datasets:  # a resumed fit restores after setup has run
                self.datasets = {}
                self.setup()

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.datasets[name],
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
            collate_fn=collate,
            worker_init_fn=functools.partial(reseed_worker_augmentation, rank=self.rank),
            persistent_workers=self.hparams.num_workers > 0,
            drop_last=shuffle and len(self.datasets[name]) > self.hparams.batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        # With no validation share, validate on the test ids (the paper's protocol).
        return self._loader("val" if len(self.datasets["val"]) else "test", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
