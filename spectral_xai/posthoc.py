"""Post-hoc explanation of trained checkpoints over a dataset split (what explain.py runs).

For every checkpoint and every spectrum it is evaluated on, the chosen detections (the top one by
default) of each of one seeded choice of scenes (the same for every net) are explained by every
method and scored; on several devices each process explains its share of the scenes (Lightning
Fabric) and the shares are gathered into one report. The results
become per-box figures, curve plots, ``boxes.csv``, the paper's Table 2 (``summary.csv`` /
``summary.json``), the spectrum attribution table (``attribution.csv``) and a self-contained
``report.html``. Everything is checked before anything is written, and the files are
made in a scratch folder that becomes ``output`` only when all of them are there: a failed run
leaves nothing half-written.
"""
from __future__ import annotations

import dataclasses
import inspect
import itertools
import logging
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from lightning_fabric import Fabric
from PIL import Image
from tqdm import tqdm

from .checkpoint import CheckpointError, read_checkpoint
from .complementarity import Condition, ObjectRecord, explained_box, object_records, scene_conditions, write_complementarity
from .data_modules import layout
from .data_modules.dataset import MultispectralDetectionDataset
from .data_modules.datamodule import MultispectralDataModule
from .data_modules.reader import DatasetError
from .data_modules.user_images import UserImage, UserImages, image_files
from .data_modules.datamodule import input_channels
from .distributed import gather, shard
from .effdet_weights import is_description, load_net
from .evaluation import BoxResult, Explainer, ExplainSettings, SampleExplanation, boxes_label, choose_scenes
from .lit_modules import EfficientDetModule
from .loggers import AutoWandbLogger
from .reporting.curves import curve_plot
from .reporting.figures import GridRow, explanation_figure, sanity_figure, scene_grid
from .reporting.html import Section, write_report
from .reporting.plots import method_dots, overlaid_curves, sanity_heatmap, spectra_panels
from .reporting.media import SceneMedia, scene_media
from .reporting.tables import (GroupKey, box_fields, box_row, families_paragraph, group_results, input_spectra, method_rows,
                               method_scalars, primary_rows, spectrum_scalars, summarize, write_attribution,
                               write_comparisons, write_csv, write_sanity, write_summary)
from .reporting.wandb_media import log_media
from .sanity import STAGES, SanityResult, randomised_cascade, sanity_check as randomisation_test
from .settings import Setting, SettingsError, check_settings, name_list, unknown_name
from .statistics import comparisons, group_name, primary_sentences

log = logging.getLogger(__name__)


@dataclass
class LoadedCheckpoint:
    name: str  # how rows and figures name the model
    path: Path
    module: EfficientDetModule
    data: MultispectralDataModule
    epoch: int | None = None  # the training epoch it was saved at
    val_map: float | None = None  # its val/map, where the run's ModelCheckpoint recorded it


@dataclass  # not frozen: Lightning's spawn launcher rebuilds dataclasses field by field
class Source:
    """What every checkpoint explains: a part of its split of scenes, or images the user brought
    (then no annotations), on the given spectra (default: what the net was trained on)."""

    part: str = "test"
    spectra: tuple[str, ...] | None = None
    images: tuple[UserImage, ...] | None = None


@dataclass
class Explained:
    """One (checkpoint, spectrum, scene) evaluation (its explanation's targets are empty where there
    was nothing to explain)."""

    checkpoint: int  # index into the loaded checkpoints
    evaluation: int  # index into the (checkpoint, spectra) evaluations, which is their order
    sample_id: str
    spectrum: str
    explanation: SampleExplanation
    sanity: list[SanityResult] = field(default_factory=list)  # the randomisation test, for the scenes it ran on


def evaluation_spectra(saved: Sequence[str], fusion: str, requested: Sequence[str] | None) -> list[list[str]]:
    """Inputs to evaluate a net on: a mixed net on each spectrum alone (the paper's Fig. 4), an
    early-fusion net on its stack only."""
    if fusion == "early":
        if requested and list(requested) != list(saved):
            raise CheckpointError(f"an early-fusion net takes exactly {list(saved)} stacked, not {list(requested)}")
        return [list(saved)]
    return [[s] for s in (requested or saved)]


def requested_spectra(spectra: str | Sequence[str] | None) -> list[str] | None:
    """The spectra asked for, however the list was typed; unknown names refused with the closest."""
    if spectra is None:
        return None
    chosen = name_list(spectra, "spectra")
    for name in chosen:
        if name not in layout.SPECTRA:
            raise unknown_name("spectrum", name, layout.SPECTRA)
    return chosen or None


#: Dataset scenes explained when ``num_images`` is not given (images of your own: all of them).
DEFAULT_SCENES = 20
RUN_SETTINGS = {"part": Setting(str, choices=("train", "val", "test")), "num_images": Setting(int, low=1),
                "scene_grids": Setting(int, low=0), "seed": Setting(int, low=0), "devices": Setting(int, low=1),
                "accelerator": Setting(str, choices=("auto", "cpu", "cuda", "gpu", "mps")),
                "sanity_images": Setting(int, low=1), "root": Setting(str), "split": Setting(str, choices=("random", "vis_ok", "file")),
                "conditions": Setting(str), "night_brightness": Setting(float, 0, 1, open="both")}


def explain_checkpoints(
    checkpoints: Sequence[str | Path],
    output: str | Path = "outputs/explain",
    settings: ExplainSettings | None = None,
    root: str | None = None,
    split: str | None = None,
    part: str = "test",
    spectra: str | list[str] | None = None,
    images: str | list[str] | None = None,
    num_images: int | None = None,
    scene_grids: int = 4,
    seed: int = 0,
    accelerator: str = "auto",
    devices: int = 1,
    sanity_check: bool = False,
    sanity_images: int = 2,
    wandb_project: str | None = None,
    wandb_run_id: str | None = None,
    trust_checkpoint: bool = False,
    conditions: str | None = None,
    night_brightness: float = 0.25,
) -> Path:
    """Explain detections of dataset images with trained checkpoints; returns the output folder.

    Args:
        checkpoints: checkpoint files written by train.py, or YAML descriptions of EfficientDets
            trained elsewhere (:mod:`~spectral_xai.effdet_weights`).
        output: folder for boxes/, curves/, scenes/, boxes.csv, summary.csv, summary.json, attribution.csv,
            report.html (and sanity/, sanity.csv, sanity.json with ``sanity_check``).
        settings: how detections are explained and scored (methods and their settings, the
            scoring rule, which boxes, step, batch size, precision): see
            :class:`~spectral_xai.evaluation.ExplainSettings`; default: its defaults.
        root: dataset folder; default: the one the checkpoint was trained on.
        split: random or vis_ok; default: the checkpoint's.
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
        wandb_project: also log to this W&B project (offline when no account is configured):
            scalars, a figure per scene (``explain/maps/<net>_<scene>_<spectrum>``), the table
            ``explain/boxes`` with the maps in it, Table 2, the sanity table and the whole report
            folder as an ``explanation`` artifact.
        wandb_run_id: log all that into this existing run (the training run of the checkpoint,
            say; its id is the last part of the run's address) instead of a new one; the project
            defaults to ``spectral-xai``.
        trust_checkpoint: load checkpoints that reading them as data refuses; this runs any code
            stored in them, so only for files from someone you trust.
        conditions: a file of ``id,condition`` lines (day or night) for complementarity.csv's
            split; default ``<root>/conditions.csv`` where it exists (the synthetic data writes
            one), otherwise each scene's condition is estimated from its RGB image.
        night_brightness: the estimate: an RGB image whose mean brightness (0..1) is below this is night.
    """
    arguments = dict(locals())
    check_settings("settings", {name: arguments[name] for name in RUN_SETTINGS if arguments[name] is not None}, RUN_SETTINGS)
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise SettingsError(f"{output}: the output path exists and is not a folder")
    explainer = Explainer(settings or ExplainSettings())
    requested = requested_spectra(spectra)
    source = Source(part, None if requested is None else tuple(requested),
                    None if images is None else tuple(image_files(images)))
    loaded = _load_all(checkpoints, trust=trust_checkpoint, root=root, split=split)
    explainer.check_net(loaded[0].module.detector().net)
    evaluations = list(_evaluations(loaded, source))
    _check_annotated(explainer, evaluations, source)
    pools = [dataset.sample_ids for _, dataset in evaluations]
    num_images = num_images or (len(set().union(*pools)) if source.images else DEFAULT_SCENES)
    scenes = choose_scenes(pools, num_images, seed)
    sanity_scenes = scenes[:sanity_images] if sanity_check else []
    # ddp_spawn rather than ddp: ddp re-runs the command line for every rank, which would also
    # re-run whatever called this function (reproduce.py's training, a notebook, pytest).
    fabric = Fabric(accelerator=accelerator, devices=devices, strategy="ddp_spawn" if devices > 1 else "auto")
    if devices == 1:
        explained = fabric.launch(_explain_share, loaded, evaluations, explainer, scenes, sanity_scenes)
    else:
        explained = _launch_spawned(fabric, checkpoints, {"root": root, "split": split, "trust": trust_checkpoint}, source,
                                    explainer, scenes, sanity_scenes)
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        wandb_run = {"project": wandb_project or "spectral-xai", "id": wandb_run_id} if wandb_project or wandb_run_id else None
        _write_report(scratch, loaded, explainer, scenes, explained, scene_grids, sanity_check, wandb_run,
                      scene_conditions(loaded[0].data.hparams.root, scenes, conditions, night_brightness,
                                       loaded[0].data.hparams.image_dir),
                      {**({"images": ", ".join(map(str, images)) if isinstance(images, list) else images} if images
                          else {"part": part}), "scene seed": seed, "scenes asked for": num_images, "conditions": conditions
                       or "<root>/conditions.csv where it exists, else estimated", "night brightness": night_brightness})
        output.mkdir(exist_ok=True)
        for item in scratch.iterdir():
            target = output / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return output


def explain_options(options: Mapping[str, Any]) -> tuple[ExplainSettings, dict[str, Any]]:
    """explain.py's options as one flat mapping (its ``--config``, reproduce.py's ``explain:``) split
    into the explanation settings (checked) and the options of :func:`explain_checkpoints` (checked);
    an unknown name is refused with the closest known one."""
    fields = [f.name for f in dataclasses.fields(ExplainSettings)]
    run = [name for name in inspect.signature(explain_checkpoints).parameters if name not in ("checkpoints", "output", "settings")]
    for name in options:
        if name not in fields + run:
            raise unknown_name("explain option", name, fields + run)
    given = {name: options[name] for name in RUN_SETTINGS if options.get(name) is not None}
    check_settings("settings", given, RUN_SETTINGS)
    requested_spectra(options.get("spectra"))
    return (ExplainSettings(**{name: options[name] for name in fields if name in options}),
            {name: options[name] for name in run if name in options})


def _load_all(checkpoints: Sequence[str | Path], trust: bool = False, **overrides) -> list[LoadedCheckpoint]:
    """Every checkpoint loaded (to host memory) and checked before any work starts."""
    if not checkpoints:
        raise CheckpointError("no checkpoint given")
    loaded, names = [], []
    for path in map(Path, checkpoints):
        name = _model_name(path, names)
        names.append(name)
        module, data = load_net(path, trust, num_workers=0, **{k: v for k, v in overrides.items() if v is not None})
        # a net trained elsewhere has no training state to report
        state = (None, None) if is_description(path) else _training_state(read_checkpoint(path, trust, mmap=True))
        loaded.append(LoadedCheckpoint(name, path, module, data, *state))
    return loaded


def _training_state(saved: Mapping[str, Any]) -> tuple[int | None, float | None]:
    """The epoch a checkpoint was saved at and its val/map, as Lightning's ModelCheckpoint kept it."""
    val_map = None
    for key, state in saved.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and "val/map" in key and isinstance(state, Mapping):
            score = state.get("current_score")
            val_map = None if score is None else round(float(score), 4)
    return saved.get("epoch"), val_map


def _settings_rows(loaded: Sequence[LoadedCheckpoint], explainer: Explainer, scenes: Sequence[str], skipped: int,
                   run: Mapping[str, Any]) -> list[list[str]]:
    """What made the numbers: the explanation settings, the run's options and every checkpoint."""
    settings, scoring = explainer.settings, explainer.scoring
    rows = [["setting", "value"], ["package", f"spectral-xai {version('spectral-xai')}"],
            *([f"method {name}", method.describe() or "no settings"] for name, method in explainer.methods.items()),
            ["scoring rule", f"{scoring.rule} (min score {scoring.min_score}, min IoU {scoring.min_iou})"],
            ["targets", ", ".join(settings.targets)], ["boxes per image (of each kind)", boxes_label(settings.boxes)],
            ["target min score", str(settings.target_min_score)], ["insertion/deletion step", str(settings.step)],
            ["repeats", str(settings.repeats)],
            ["bootstrap", f"{settings.bootstrap_resamples} resamples, seed {settings.bootstrap_seed}"],
            *([name, str(value)] for name, value in run.items()),
            ["scenes (the same for every net and spectrum where present)", ", ".join(scenes)],
            ["images with nothing to explain", str(skipped)]]
    for checkpoint in loaded:
        hparams = checkpoint.data.hparams
        sizes = ", ".join(f"{part} {len(ids)}" for part, ids in (checkpoint.data.split or {}).items())
        split = f"{hparams.split}" + (f" ({hparams.split_file})" if hparams.split_file else f", seed {hparams.seed}")
        rows.append([f"checkpoint {checkpoint.name}",
                     f"{checkpoint.path}; epoch {checkpoint.epoch}; val/map {checkpoint.val_map}; spectra "
                     f"{'+'.join(checkpoint.data.spectra)} ({checkpoint.data.fusion}); {hparams.image_size} px; root "
                     f"{hparams.root}; split {split}: {sizes}"])
    return rows


def _launch_spawned(fabric: Fabric, checkpoints: Sequence[str | Path], overrides: dict, source: Source,
                    explainer: Explainer, scenes: Sequence[str], sanity_scenes: Sequence[str]) -> list[Explained]:
    """The scenes explained by spawned processes. They get paths and load the nets themselves, and
    rank zero hands the gathered results back in a file: Fabric returns a worker's result through a
    pipe that it reads only after the workers exit, so a result larger than the pipe's buffer would
    never arrive, and multiprocessing would pass tensors through shared-memory files, which
    containers often refuse."""
    handle, name = tempfile.mkstemp(prefix="spectral-xai-shares-", suffix=".pkl")
    os.close(handle)
    try:
        fabric.launch(_explain_spawned, [str(c) for c in checkpoints], overrides, source, explainer, scenes,
                      sanity_scenes, Path(name))
        return pickle.loads(Path(name).read_bytes())
    finally:
        os.unlink(name)


def _explain_spawned(fabric: Fabric, checkpoints: Sequence[str], overrides: dict, source: Source,
                     explainer: Explainer, scenes: Sequence[str], sanity_scenes: Sequence[str], result: Path) -> None:
    loaded = _load_all(checkpoints, **overrides)
    explained = _explain_share(fabric, loaded, list(_evaluations(loaded, source)), explainer, scenes, sanity_scenes)
    if fabric.global_rank == 0:
        result.write_bytes(pickle.dumps(explained))


def _check_annotated(explainer: Explainer, evaluations: Sequence[tuple[int, MultispectralDetectionDataset]],
                     source: Source) -> None:
    """Missed objects and false positives are defined by annotations: a part without any is refused."""
    wanted = [kind for kind in explainer.settings.targets if kind != "detection"]
    if wanted and source.images:
        raise SettingsError(f"targets {', '.join(wanted)} need annotated objects, and images of your own carry none")
    part = source.part
    for _, dataset in evaluations:
        if wanted and not any(len(record.boxes) for record in dataset.records):
            root = Path(dataset.records[0].paths[dataset.spectra[0]]).parents[2] if dataset.records else "the dataset"
            raise DatasetError(f"{root}: targets {', '.join(wanted)} need annotated objects, and the {part!r} part "
                               "has none")


def _explain_share(fabric: Fabric, loaded: Sequence[LoadedCheckpoint],
                   evaluations: Sequence[tuple[int, MultispectralDetectionDataset]], explainer: Explainer,
                   scenes: Sequence[str], sanity_scenes: Sequence[str] = ()) -> list[Explained]:
    """In each process: explain this process's share of the scenes with every net on every
    spectrum (and run the randomisation test on those among ``sanity_scenes``), and gather all
    shares; returns every evaluation in (net, spectra, scene) order, the same whatever the number
    of processes."""
    mine, done = shard(scenes), []
    for number, (which, dataset) in enumerate(evaluations):
        checkpoint = loaded[which]
        module = checkpoint.module.to(fabric.device)
        if explainer.settings.channels_last:
            module.use_channels_last()
        detector, spectrum = explainer.prepared(module.detector()), "+".join(dataset.spectra)
        cascade = None  # made once per net, when a scene of the test comes
        for index in tqdm(dataset.indices_of(mine), unit="image", disable=fabric.global_rank > 0,
                          desc=f"{checkpoint.name} on {spectrum}"):
            sample = dataset[index]
            explanation = explainer.explain(detector, sample, fabric.device)
            sanity = []
            if explanation.targets and sample["sample_id"] in sanity_scenes:
                cascade = cascade or randomised_cascade(detector)
                sanity = [r.cpu() for r in randomisation_test(explainer, detector, cascade, explanation)]
            done.append(Explained(which, number, sample["sample_id"], sample["spectrum"],
                                  explanation.cpu(), sanity))
    everything = [item for share in gather(done) for item in share]
    return sorted(everything, key=lambda item: (item.evaluation, item.sample_id))


def _write_report(folder: Path, loaded: Sequence[LoadedCheckpoint], explainer: Explainer, scenes: Sequence[str],
                  explained: Sequence[Explained], scene_grids: int, sanity_check: bool, wandb_run: Mapping[str, Any] | None,
                  conditions: Mapping[str, Condition], run: Mapping[str, Any]) -> None:
    (folder / "boxes").mkdir()
    (folder / "curves").mkdir()
    groups: dict[GroupKey, list[BoxResult]] = {}
    sanity_groups: dict[tuple[str, str], list[SanityResult]] = {}
    outcomes: dict[str, dict[str, list]] = {}  # per net x spectrum, per scene: its objects as it saw them
    shown: dict[tuple[str, str], tuple[SampleExplanation, LoadedCheckpoint]] = {}
    sanity_pngs = []
    rows, box_pngs, skipped = [], [], 0
    media: list[SceneMedia] = []  # for W&B: each scene's images, with the cell of each row
    cells: list[tuple[SceneMedia, int, str]] = []
    spectra = input_spectra([r for item in explained for r in item.explanation.results])
    grids: dict[str, list[GridRow]] = {scene: [] for scene in scenes[:scene_grids]}
    for item in explained:
        checkpoint = loaded[item.checkpoint]
        class_names = list(checkpoint.module.hparams.class_names)
        mean, std = checkpoint.data.hparams.mean, checkpoint.data.hparams.std
        name = f"{checkpoint.name} on {item.spectrum}"
        outcomes.setdefault(name, {})[item.sample_id] = item.explanation.objects
        if not item.explanation.targets:
            skipped += 1
            log.warning("%s on %s: nothing to explain in image %s (targets %s; detections >= %.2f)", checkpoint.name,
                        item.spectrum, item.sample_id, ", ".join(explainer.settings.targets), explainer.target_min_score)
            continue
        shown[name, item.sample_id] = item.explanation, checkpoint
        group_results(item.explanation.results, checkpoint.name, groups)
        rows += [[checkpoint.name, *box_row(r, class_names, spectra)] for r in item.explanation.results]
        figure = explanation_figure(item.explanation, class_names, mean, std, title_prefix=f"{checkpoint.name} | ")
        if wandb_run:  # the same figure, drawn once
            media.append(scene_media(item.explanation, class_names, mean, std, prefix=checkpoint.name, figure=figure))
            cells += [(media[-1], r.box, r.method) for r in item.explanation.results]
        path = folder / "boxes" / f"{checkpoint.name}_{item.spectrum}_{item.sample_id}.png"
        Image.fromarray(figure).save(path)
        box_pngs.append(path)
        if item.sample_id in grids:
            grids[item.sample_id].append((f"{checkpoint.name} | ", item.explanation, class_names, mean, std))
        if item.sanity:
            sanity_groups.setdefault((checkpoint.name, item.spectrum), []).extend(item.sanity)
            (folder / "sanity").mkdir(exist_ok=True)
            sanity_pngs.append(folder / "sanity" / f"{checkpoint.name}_{item.spectrum}_{item.sample_id}.png")
            Image.fromarray(sanity_figure(item.explanation, item.sanity, STAGES, class_names,
                                          mean, std, title_prefix=f"{checkpoint.name} | ")).save(sanity_pngs[-1])
    if not rows:
        raise DatasetError(f"nothing to explain in any image: no target of kinds {', '.join(explainer.settings.targets)} "
                           f"(detections scoring >= {explainer.target_min_score})")
    methods, boxes = list(explainer.methods), boxes_label(explainer.boxes)
    columns = ["model", *box_fields(spectra)]
    write_csv(folder / "boxes.csv", columns, rows)
    settings = explainer.settings
    table = summarize(groups, methods, settings.inference)
    summary = write_summary(folder, table, methods, explainer.step, boxes)
    compared = comparisons(groups, methods, settings.primary, settings.inference)
    write_comparisons(folder, compared)
    attribution = write_attribution(folder, table)
    curve_pngs, dot_pngs, overlay_pngs, method_tables = [], [], [], []
    (folder / "plots").mkdir()
    for entry, ((model, spectrum, kind), results) in zip(table, groups.items()):
        name, stem = group_name((model, spectrum, kind)), f"{model}_{spectrum}{'' if kind == 'detection' else '_' + kind}"
        for method in methods:
            path = folder / "curves" / f"{stem}_{method}.png"
            curve_plot(path, f"{name}: {method}", [r for r in results if r.method == method])
            curve_pngs.append(path)
        method_tables.append((name, method_rows(entry, methods)))
        dot_pngs.append(method_dots(folder / "plots" / f"{stem}_methods.png", name, entry, methods))
        overlay_pngs.append(overlaid_curves(folder / "plots" / f"{stem}_curves.png", f"{name}: every method", results, methods))
    if sum(entry["targets"] == "detection" for entry in table) > 1:
        dot_pngs.append(spectra_panels(folder / "plots" / "spectra.png", table, methods))
    sanity, sanity_maps = write_sanity(folder, sanity_groups, STAGES) if sanity_check else None, []
    if sanity:
        for (model, spectrum), entries in itertools.groupby(sanity[1], key=lambda e: (e["model"], e["spectrum"])):
            sanity_maps.append(sanity_heatmap(folder / "plots" / f"{model}_{spectrum}_sanity.png", list(entries), STAGES))
    (folder / "scenes").mkdir()
    scene_pngs = []
    for scene, grid_rows in grids.items():
        if grid_rows:
            scene_pngs.append(folder / "scenes" / f"{scene}.png")
            Image.fromarray(scene_grid(grid_rows)).save(scene_pngs[-1])
    class_names = list(loaded[0].module.hparams.class_names)
    records = object_records(outcomes, conditions)
    by_class, by_pair = write_complementarity(folder, records, list(outcomes), class_names)
    estimated = any(r.condition.source == "estimate" for r in records)
    pair_pngs = _complementarity_grids(folder, records, shown, scene_grids)
    sections = [
        Section("What these numbers support", sentences=primary_sentences(compared), paragraphs=[
            families_paragraph(compared, settings.equivalence_margin)], tables=[("Primary comparisons", primary_rows(compared))]),
        Section("Settings", tables=[("", _settings_rows(loaded, explainer, scenes, skipped, run))]),
        Section("Methods compared", paragraphs=[
            "Per net x spectrum (and kind of target): methods as rows, mean ± std over the maps that are not blank "
            "with n, the bootstrap 95 % interval of the mean; lower deletion and higher insertion are better, "
            "pointing game and energy pointing game higher, ODI lower. summary.csv holds the same in the paper's "
            "layout, comparisons.csv every paired test."], tables=method_tables, figures=dot_pngs),
        Section("Curves", paragraphs=["Every method's mean curve on one axis; each method's own figure with every "
                                      "box: " + ", ".join(p.name for p in curve_pngs) + " (in curves/)."],
                figures=overlay_pngs),
        Section("Spectrum attribution", paragraphs=[
            "The box's score with each input spectrum replaced by the deletion substrate, and with it alone."],
            tables=[("", attribution)]),
        Section("What each spectrum sees", paragraphs=[
            f"An object is found by a detection of its class at IoU >= 0.5 scoring >= {explainer.target_min_score}."
            + (" Day and night partly estimated from the RGB image's brightness." if estimated else "")
            + (" Below: found by one, missed by another, the finder's explanation of its detection above the other's "
               "explanation of its miss." if pair_pngs else "")],
            tables=[("Per class and condition", by_class), ("Found by the first, missed by the second", by_pair)],
            figures=pair_pngs),
        Section("Sanity check", paragraphs=[
            "Spearman correlation of each method's map with the trained net's as the net is re-initialised from the "
            "top (cumulative stages); near 1 means the map does not depend on the weights re-initialised so far."],
            tables=[("", sanity[0])] if sanity else [], figures=[*sanity_maps, *sanity_pngs]),
        Section("Scenes", paragraphs=["Every net and spectrum on the same scene (rows), every method (panels)."],
                figures=scene_pngs),
        Section("Explained boxes", figures=box_pngs),
    ]
    write_report(folder, "spectral-xai: explanations", [], sections)
    if wandb_run:
        all_results = [r for results in groups.values() for r in results]  # method_scalars keeps kinds apart
        scalars = {**method_scalars(all_results, methods), **spectrum_scalars(all_results)}
        _log_wandb(wandb_run, folder, scalars, (columns, rows, media, cells, class_names), summary, sanity and sanity[0])


def _complementarity_grids(folder: Path, records: Sequence[ObjectRecord],
                           shown: Mapping[tuple[str, str], tuple[SampleExplanation, LoadedCheckpoint]], limit: int) -> list[Path]:
    """Up to ``limit`` figures (night first), one per object found by one net x spectrum and missed by
    another where both explained it: the finder's detection above the other's miss."""
    pngs = []
    for record in sorted(records, key=lambda r: (r.condition.name != "night", r.scene, r.index)):
        for finder in record.finders:
            for misser in (n for n, o in record.outcomes.items() if not o.found):
                if len(pngs) >= limit:
                    return pngs
                found, missed = shown.get((finder, record.scene)), shown.get((misser, record.scene))
                if not found or not missed:
                    continue
                label = record.label
                rows = []
                for (explanation, checkpoint), kind, name in ((found, "detection", finder), (missed, "missed", misser)):
                    one = explained_box(explanation, kind, label, record.outcomes[name].box)
                    if one is not None:
                        hparams = checkpoint.data.hparams
                        rows.append((f"{'found' if kind == 'detection' else 'missed'} by {name} | ", one,
                                     list(checkpoint.module.hparams.class_names), hparams.mean, hparams.std))
                if len(rows) == 2:
                    (folder / "complementarity").mkdir(exist_ok=True)
                    pngs.append(folder / "complementarity" / f"{record.scene}_{record.index}_{len(pngs)}.png")
                    Image.fromarray(scene_grid(rows)).save(pngs[-1])
    return pngs


def _evaluations(loaded: Sequence[LoadedCheckpoint], source: Source
                 ) -> Iterator[tuple[int, MultispectralDetectionDataset | UserImages]]:
    """Every checkpoint (by its index) on every spectrum set it is evaluated on, with the part's
    dataset under the checkpoint's split of scenes, or the user's images as that net takes them."""
    for which, checkpoint in enumerate(loaded):
        data = checkpoint.data
        if source.images:
            for spectrum_set in image_spectra(data, source.spectra):
                yield which, user_images(data, source.images, spectrum_set)
            continue
        for spectrum_set in evaluation_spectra(checkpoint.data.spectra, checkpoint.data.fusion, source.spectra):
            data = MultispectralDataModule(**{**checkpoint.data.hparams, "spectra": spectrum_set})
            data.load_state_dict(checkpoint.data.state_dict())
            data.setup("test")
            dataset = data.datasets[source.part]
            if len(dataset) == 0:
                raise DatasetError(f"{data.hparams.root}: the {source.part!r} part of split {data.hparams.split!r} is empty")
            yield which, dataset


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


def _model_name(checkpoint: Path, taken: Sequence[str]) -> str:
    """runs/<name>/checkpoints/x.ckpt -> <name>; a W&B artifact's model-<id>:v3/model.ckpt ->
    model-<id>_v3; otherwise the file's stem; numbered if taken."""
    name = (checkpoint.parent.parent.name if checkpoint.parent.name == "checkpoints" else
            checkpoint.parent.name.replace(":", "_") if checkpoint.name == "model.ckpt" else checkpoint.stem)
    return name if name not in taken else f"{name}-{len(taken)}"


def _log_wandb(run: Mapping[str, Any], folder: Path, scalars: dict[str, float], table: tuple,
               summary: list[list[str]], sanity: list[list[str]] | None) -> None:
    """The callback's keys, once: scalars per method, a figure per scene, the per-box table with the
    maps in it (``table``: columns, rows, scene media, each row's cell, class names), and Table 2;
    the sanity check's table as ``explain/sanity`` when it ran; the report folder as an artifact."""
    import wandb

    resumed = {"id": run["id"], "resume": "allow"} if run["id"] else {}
    logger = AutoWandbLogger(project=run["project"], save_dir=str(folder), job_type="explain", **resumed)
    logger.log_metrics(scalars)
    columns, rows, media, cells, class_names = table
    log_media(logger, media, columns, rows, cells, class_names)
    logger.log_table("explain/summary", columns=summary[0], data=summary[1:])
    if sanity:
        logger.log_table("explain/sanity", columns=sanity[0], data=sanity[1:])
    report = wandb.Artifact(f"explanation-{logger.experiment.id}", type="explanation",
                         description="explain.py's report folder: report.html, its figures and tables")
    for item in sorted(folder.iterdir()):
        if item.name != "wandb":  # the run's own files, still being written
            (report.add_dir if item.is_dir() else report.add_file)(str(item), name=item.name)
    logger.experiment.log_artifact(report)
    logger.experiment.finish()
