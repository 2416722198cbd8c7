"""Before any image is explained: every checkpoint loaded and checked, what each explains (its part
of the split, or the user's images, on which spectra) and which scenes, as one :class:`Plan` that
the run and the report read."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..checkpoint import CheckpointError, read_checkpoint
from ..data_modules.datamodule import MultispectralDataModule, input_channels
from ..data_modules.dataset import MultispectralDetectionDataset
from ..data_modules.reader import DatasetError
from ..data_modules.user_images import UserImage, UserImages, image_files
from ..effdet_weights import is_description, load_net
from ..explaining import Explainer
from ..lit_modules import EfficientDetModule
from ..reporting.spec import ImageSpec
from ..settings import SettingsError
from ..scenes import choose_scenes
from .options import DEFAULT_SCENES, RunOptions, Source, evaluation_spectra

Evaluation = tuple[int, MultispectralDetectionDataset | UserImages]  # a checkpoint's index and what it explains


@dataclass
class LoadedCheckpoint:
    name: str  # how rows and figures name the model
    path: Path
    module: EfficientDetModule
    data: MultispectralDataModule
    spec: ImageSpec  # how its inputs are drawn, carried with its explanations to every figure
    epoch: int | None = None  # the training epoch it was saved at
    val_map: float | None = None  # its val/map, where the run's ModelCheckpoint recorded it
    seed: int | None = None  # its training seed, where the run recorded it
    family: str = ""  # the name shared by the nets that differ from it only by their seed (its own name if none)


@dataclass
class Plan:
    """Everything a run explains, decided and checked before its first image."""

    checkpoints: list[Path]  # as given
    load: dict[str, Any]  # how they are read (:func:`load_options`)
    source: Source  # the part of the split, or the user's images, and the spectra asked for
    explainer: Explainer
    scenes: list[str]  # chosen once, the same for every net and spectrum where present
    sanity_scenes: list[str]  # those the randomisation test runs on
    asked: int  # how many scenes were asked for
    loaded: list[LoadedCheckpoint] = field(default_factory=list)  # in this process
    evaluations: list[Evaluation] = field(default_factory=list)  # every checkpoint on every spectrum set it explains

    def portable(self) -> "Plan":
        """The plan without its nets and datasets, for processes that load their own."""
        return replace(self, loaded=[], evaluations=[])

    def loaded_here(self) -> "Plan":
        """The plan with its nets and datasets, loaded in this process where it came without them."""
        if self.loaded:
            return self
        loaded = load_all(self.checkpoints, **self.load)
        return replace(self, loaded=loaded, evaluations=list(evaluations(loaded, self.source)))


def make_plan(checkpoints: Sequence[str | Path], explainer: Explainer, options: RunOptions) -> Plan:
    """Every checkpoint loaded and checked against the settings, what each explains, the scenes chosen."""
    source = Source(options.part, None if options.spectra is None else tuple(options.spectra),
                    None if options.images is None else tuple(image_files(options.images)))
    load = load_options(options)
    loaded = load_all(checkpoints, **load)
    explainer.check_net(loaded[0].module.detector().net)
    planned = list(evaluations(loaded, source))
    check_annotated(explainer, planned, source)
    pools = [dataset.sample_ids for _, dataset in planned]
    asked = options.num_images or (len(set().union(*pools)) if source.images else DEFAULT_SCENES)
    scenes = choose_scenes(pools, asked, options.seed)
    return Plan([Path(c) for c in checkpoints], load, source, explainer, scenes,
                scenes[:options.sanity_images] if options.sanity_check else [], asked, loaded, planned)


def load_options(options: RunOptions) -> dict[str, Any]:
    """How :func:`load_all` is to read the checkpoints, from the run's options."""
    return {"trust": options.trust_checkpoint, "root": options.root, "split": options.split}


def load_all(checkpoints: Sequence[str | Path], trust: bool = False, **overrides) -> list[LoadedCheckpoint]:
    """Every checkpoint loaded (to host memory) and checked before any work starts."""
    if not checkpoints:
        raise CheckpointError("no checkpoint given")
    loaded, names = [], []
    for path in map(Path, checkpoints):
        name = model_name(path, names)
        names.append(name)
        module, data = load_net(path, trust, num_workers=0, **{k: v for k, v in overrides.items() if v is not None})
        # a net trained elsewhere has no training state to report
        state = (None, None, None) if is_description(path) else training_state(read_checkpoint(path, trust, mmap=True))
        spec = ImageSpec(module.hparams.class_names, data.hparams.mean, data.hparams.std)
        loaded.append(LoadedCheckpoint(name, path, module, data, spec, *state, family=name))
    name_families(loaded)
    return loaded


def training_state(saved: Mapping[str, Any]) -> tuple[int | None, float | None, int | None]:
    """The epoch a checkpoint was saved at, its val/map as Lightning's ModelCheckpoint kept it, and
    its training seed as the run's RunRecord kept it."""
    val_map = None
    for key, state in saved.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and "val/map" in key and isinstance(state, Mapping):
            score = state.get("current_score")
            val_map = None if score is None else round(float(score), 4)
    return saved.get("epoch"), val_map, saved.get("callbacks", {}).get("RunRecord", {}).get("seed")


def name_families(loaded: Sequence[LoadedCheckpoint]) -> None:
    """Nets whose model and data settings are the same and whose training seeds all differ are one
    family, named by what their names share without a ``-seed<k>`` ending (``mir-seed0`` and
    ``mir-seed1``: ``mir``), else the first one's name with ``-seeds``."""
    alike: dict[str, list[LoadedCheckpoint]] = {}
    for checkpoint in loaded:
        setup = json.dumps([dict(checkpoint.module.hparams), dict(checkpoint.data.hparams)], sort_keys=True, default=str)
        alike.setdefault(setup, []).append(checkpoint)
    for members in alike.values():
        seeds = [member.seed for member in members]
        if len(members) < 2 or None in seeds or len(set(seeds)) < len(seeds):
            continue
        stems = {re.sub(r"-seed\d+$", "", member.name) for member in members}
        others = {checkpoint.name for checkpoint in loaded if checkpoint not in members}
        family = stems.pop() if len(stems) == 1 and not stems & others else f"{members[0].name}-seeds"
        for member in members:
            member.family = family


def model_name(checkpoint: Path, taken: Sequence[str]) -> str:
    """runs/<name>/checkpoints/x.ckpt -> <name>; a W&B artifact's model-<id>:v3/model.ckpt ->
    model-<id>_v3; otherwise the file's stem; numbered if taken."""
    name = (checkpoint.parent.parent.name if checkpoint.parent.name == "checkpoints" else
            checkpoint.parent.name.replace(":", "_") if checkpoint.name == "model.ckpt" else checkpoint.stem)
    return name if name not in taken else f"{name}-{len(taken)}"


def evaluations(loaded: Sequence[LoadedCheckpoint], source: Source) -> Iterator[Evaluation]:
    """Every checkpoint (by its index) on every spectrum set it is evaluated on, with the part's
    dataset under the checkpoint's split of scenes, or the user's images as that net takes them."""
    for which, checkpoint in enumerate(loaded):
        data = checkpoint.data
        if source.images:
            for spectrum_set in image_spectra(data, source.spectra):
                yield which, user_images(data, source.images, spectrum_set)
            continue
        for spectrum_set in evaluation_spectra(data.spectra, data.fusion, source.spectra):
            yield which, _part(data, spectrum_set, source.part)


def _part(saved: MultispectralDataModule, spectra: Sequence[str], part: str) -> MultispectralDetectionDataset:
    """The part of the checkpoint's split on ``spectra``: from its own DataModule where those are its
    spectra, else from one made for them with its split."""
    data = saved
    if list(spectra) != list(saved.spectra):
        data = MultispectralDataModule(**{**saved.hparams, "spectra": list(spectra)})
        data.load_state_dict(saved.state_dict())
    data.setup("test")
    dataset = data.datasets[part]
    if len(dataset) == 0:
        raise DatasetError(f"{data.hparams.root}: the {part!r} part of split {data.hparams.split!r} is empty")
    return dataset


def user_images(data: MultispectralDataModule, images: Sequence[UserImage], spectra: Sequence[str]) -> UserImages:
    """``images`` as the net of ``data`` takes them, each being ``spectra``."""
    return UserImages(images, "+".join(spectra), input_channels(spectra, data.fusion), data.hparams.image_size,
                      data.hparams.mean, data.hparams.std)


def image_spectra(data: MultispectralDataModule, requested: Sequence[str] | None) -> list[list[str]]:
    """Which spectra a user's images are taken as: those asked for, else a stacked net's all at once
    or another net's first (a mixed RGB+MIR net: RGB)."""
    if requested is not None:
        return evaluation_spectra(data.spectra, data.fusion, requested)
    return [list(data.spectra)] if data.fusion == "early" else [[data.spectra[0]]]


def check_annotated(explainer: Explainer, planned: Sequence[Evaluation], source: Source) -> None:
    """Missed objects and false positives are defined by annotations: a part without any is refused."""
    wanted = [kind for kind in explainer.settings.targets if kind != "detection"]
    if wanted and source.images:
        raise SettingsError(f"targets {', '.join(wanted)} need annotated objects, and images of your own carry none")
    for _, dataset in planned:
        if wanted and not any(len(record.boxes) for record in dataset.records):
            root = Path(dataset.records[0].paths[dataset.spectra[0]]).parents[2] if dataset.records else "the dataset"
            raise DatasetError(f"{root}: targets {', '.join(wanted)} need annotated objects, and the {source.part!r} part "
                               "has none")
