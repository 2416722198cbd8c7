"""What an explain.py run is asked for, beside the explanation settings: one checked
:class:`RunOptions`, read alike from explain.py's command line, its ``--config`` and
reproduce.py's ``explain:`` (:func:`explain_options`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..checkpoint import CheckpointError
from ..data_modules import layout
from ..data_modules.user_images import UserImage
from ..explain_settings import ExplainSettings
from ..sanity import RANDOMISATIONS
from ..settings import Setting, SettingsError, check_settings, name_list, unknown_name

#: Dataset scenes explained when ``num_images`` is not given (images of your own: all of them).
DEFAULT_SCENES = 20
CHECKED = {"part": Setting(str, choices=("train", "val", "test")), "num_images": Setting(int, low=1),
           "scene_grids": Setting(int, low=0), "seed": Setting(int, low=0), "devices": Setting(int, low=1),
           "accelerator": Setting(str, choices=("auto", "cpu", "cuda", "gpu", "mps")),
           "sanity_images": Setting(int, low=1), "randomisation": Setting(str, choices=RANDOMISATIONS),
           "root": Setting(str), "split": Setting(str, choices=("random", "blocked", "vis_ok", "file")),
           "conditions": Setting(str), "night_brightness": Setting(float, 0, 1, open="both")}


@dataclass
class RunOptions:
    """Which images every checkpoint explains, where the report goes and how the run is spread;
    checked when made (a mistake is a :class:`SettingsError` naming the option).

    Args:
        output: folder for boxes/, curves/, scenes/, boxes.csv, summary.csv, summary.json, attribution.csv,
            report.html (and sanity/, sanity.csv, sanity.json with ``sanity_check``).
        root: dataset folder; default: the one the checkpoint was trained on.
        split: random, blocked (runs of consecutive frames kept whole) or vis_ok; default: the checkpoint's.
        part: which part of the split to explain: test, val or train.
        spectra: spectra to evaluate a per-spectrum or mixed net on (rgb,mir or [rgb, mir]); default: its
            training spectra (with ``images``: the first of them, or all of a stacked input).
        images: your own images to explain instead of ``part``: a folder, a file or a list of them,
            in any size and any format PIL reads (``.npy`` arrays for a stacked input), resized and
            normalised as the net was trained. They carry no annotations: ``targets`` can only be
            detections, and the localisation scores are judged against the detection itself.
        num_images: scenes to explain (default 20; with ``images``, every image): one seeded
            choice of sample ids shared by every checkpoint and spectrum (each explains the chosen
            scenes it has in ``part``).
        scene_grids: how many of the chosen scenes (in id order) get a grid figure: rows net x
            spectrum, columns the image with its box and each method's overlay (the paper's
            Figures 3 and 4); 0 for none.
        seed: seed of that choice.
        accelerator: cpu, cuda (gpu) or auto.
        devices: processes to share the scenes over, one device each (2 on cpu runs two processes).
        sanity_check: also run the model-parameter randomisation test (Adebayo et al. 2018): every
            method again on the same boxes with the net re-initialised stage by stage from the top
            (class predict conv, class head, box head + BiFPN, backbone); sanity.csv / sanity.json
            give the Spearman correlation of each stage's maps with the trained net's, and
            sanity/ a figure per scene.
        sanity_images: how many of the chosen scenes (in id order) the randomisation test runs on.
        randomisation: how the test randomises a stage: ``permute`` shuffles each of its trained
            weight tensors (their scale kept: a re-initialised class head has weights far smaller
            than trained, its outputs hardly depend on the input and its maps show the method's
            prior, not a net), ``init`` re-initialises them (the classic test).
        wandb_project: also log to this W&B project (offline when no account is configured):
            scalars, a figure per scene (``explain/maps/<net>_<scene>_<spectrum>``), the table
            ``explain/boxes`` with the maps in it, Table 2, the sanity table and the whole report
            folder as an ``explanation`` artifact.
        wandb_run_id: log all that into this existing run (the training run of the checkpoint,
            say; its id is the last part of the run's address) instead of a new one; the project
            defaults to ``spectral-xai``.
        trust_checkpoint: load checkpoints that reading them as data refuses; this runs any code
            stored in them, so only for files from someone you trust.
        overwrite: replace an output folder that holds files no earlier run of ours wrote (they
            are deleted). Without it such a folder is refused before any work, naming the file; a
            folder holding only an earlier run's files (its ``manifest.json`` lists them) is
            replaced as a whole.
        conditions: a file of ``id,condition`` lines (day or night) for complementarity.csv's
            split; default ``<root>/conditions.csv`` where it exists (the synthetic data writes
            one), otherwise each scene's condition is estimated from its RGB image.
        night_brightness: the estimate: an RGB image whose mean brightness (0..1) is below this is night.
    """

    output: str | Path = "outputs/explain"
    root: str | None = None
    split: str | None = None
    part: str = "test"
    spectra: str | list[str] | None = None
    images: str | list[str] | None = None
    num_images: int | None = None
    scene_grids: int = 4
    seed: int = 0
    accelerator: str = "auto"
    devices: int = 1
    sanity_check: bool = False
    sanity_images: int = 2
    randomisation: str = "permute"
    wandb_project: str | None = None
    wandb_run_id: str | None = None
    trust_checkpoint: bool = False
    overwrite: bool = False
    conditions: str | None = None
    night_brightness: float = 0.25

    def __post_init__(self) -> None:
        check_settings("settings", {name: getattr(self, name) for name in CHECKED if getattr(self, name) is not None}, CHECKED)
        self.spectra = requested_spectra(self.spectra)  # checked once, kept as a list of names
        self.output = Path(self.output)
        if self.output.exists() and not self.output.is_dir():
            raise SettingsError(f"{self.output}: the output path exists and is not a folder")

    @property
    def wandb_run(self) -> dict[str, Any] | None:
        """Where W&B logging goes, if anywhere: a project, and a run to resume or None for a new one."""
        if not (self.wandb_project or self.wandb_run_id):
            return None
        return {"project": self.wandb_project or "spectral-xai", "id": self.wandb_run_id}

    def described(self) -> dict[str, Any]:
        """The options the report's settings table names."""
        given = self.images if isinstance(self.images, (list, tuple)) else [self.images]
        images = ", ".join(str(image) if isinstance(image, (str, Path)) else f"image {n} (in memory)"
                           for n, image in enumerate(given))
        return {**({"images": images} if self.images else {"part": self.part}), "scene seed": self.seed,
                **({"randomisation": self.randomisation} if self.sanity_check else {}),
                "conditions": self.conditions or "<root>/conditions.csv where it exists, else estimated",
                "night brightness": self.night_brightness}


@dataclass  # not frozen: Lightning's spawn launcher rebuilds dataclasses field by field
class Source:
    """What every checkpoint explains: a part of its split of scenes, or images the user brought
    (then no annotations), on the given spectra (default: what the net was trained on)."""

    part: str = "test"
    spectra: tuple[str, ...] | None = None
    images: tuple[UserImage, ...] | None = None


def requested_spectra(spectra: str | Sequence[str] | None) -> list[str] | None:
    """The spectra asked for, however the list was typed; unknown names refused with the closest."""
    if spectra is None:
        return None
    chosen = name_list(spectra, "spectra")
    for name in chosen:
        if name not in layout.SPECTRA:
            raise unknown_name("spectrum", name, layout.SPECTRA)
    return chosen or None


def evaluation_spectra(saved: Sequence[str], fusion: str, requested: Sequence[str] | None) -> list[list[str]]:
    """Inputs to evaluate a net on: a mixed net on each spectrum alone (the paper's Fig. 4), an
    early-fusion net on its stack only."""
    if fusion == "early":
        if requested and list(requested) != list(saved):
            raise CheckpointError(f"an early-fusion net takes exactly {list(saved)} stacked, not {list(requested)}")
        return [list(saved)]
    return [[s] for s in (requested or saved)]


def explain_options(options: Mapping[str, Any], fixed: Sequence[str] = ()) -> tuple[ExplainSettings, RunOptions]:
    """explain.py's options as one flat mapping (its command line and ``--config``, reproduce.py's
    ``explain:``) split into the explanation settings and the run's options, both checked; an unknown
    name, or one of ``fixed`` (set by the caller), is refused with the closest known one."""
    settings = [f.name for f in dataclasses.fields(ExplainSettings)]
    run = [f.name for f in dataclasses.fields(RunOptions) if f.name not in fixed]
    for name in options:
        if name not in settings + run:
            raise unknown_name("explain option", name, settings + run)
    return (ExplainSettings(**{name: options[name] for name in settings if name in options}),
            RunOptions(**{name: options[name] for name in run if name in options}))
