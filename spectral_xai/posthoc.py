"""Post-hoc explanation of trained checkpoints over a dataset split (what explain.py runs).

For every checkpoint and every spectrum it is evaluated on, the top detection of each of a seeded
choice of images is explained by every method and scored; the results become per-box figures,
curve plots, ``boxes.csv``, the paper's Table 2 (``summary.csv`` / ``summary.json``) and a
self-contained ``report.html``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from .checkpoint import CheckpointError, load_checkpoint
from .data_modules import layout
from .data_modules.datamodule import MultispectralDataModule
from .data_modules.reader import DatasetError
from .explainers import DetectionScorer, EffdetDetector, MatchedScore, create
from .explainers.pipeline import MethodResult
from .reporting.curves import curve_plot
from .reporting.explained_box import explain_sample
from .reporting.html import write_report
from .reporting.tables import BOX_COLUMNS, summarize, write_csv, write_summary

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """One checkpoint applied to one input (a spectrum, or stacked spectra for early fusion)."""

    model: str
    spectrum: str
    results: list[MethodResult] = field(default_factory=list)


def evaluation_spectra(saved: Sequence[str], fusion: str, requested: Sequence[str] | None) -> list[list[str]]:
    """Inputs to evaluate a net on: a mixed net on each spectrum alone (the paper's Fig. 4), an
    early-fusion net on its stack only."""
    if fusion == "early":
        if requested and list(requested) != list(saved):
            raise CheckpointError(f"an early-fusion net takes exactly {list(saved)} stacked, not {list(requested)}")
        return [list(saved)]
    chosen = list(requested or saved)
    unknown = [s for s in chosen if s not in layout.SPECTRA]
    if unknown:
        raise DatasetError(f"unknown spectra {unknown}; choose from {layout.SPECTRA}")
    return [[s] for s in chosen]


def explain_checkpoints(
    checkpoints: Sequence[str | Path],
    output: str | Path = "outputs/explain",
    methods: Sequence[str] = ("gradcam", "rise", "sidu"),
    method_settings: dict[str, dict] | None = None,
    root: str | None = None,
    split: str | None = None,
    part: str = "test",
    spectra: Sequence[str] | None = None,
    num_images: int = 20,
    seed: int = 0,
    step: float = 0.05,
    min_score: float = 0.05,
    batch_size: int = 32,
    device: str = "cpu",
    wandb_project: str | None = None,
) -> Path:
    """Explain the top detection of dataset images with trained checkpoints; returns the output folder.

    Args:
        checkpoints: checkpoint files written by train.py.
        output: folder for boxes/, curves/, boxes.csv, summary.csv, summary.json, report.html.
        methods: saliency methods by name (gradcam, gradcam_norelu, rise, sidu).
        method_settings: per method keyword arguments, e.g. {rise: {n_masks: 500}}.
        root: dataset folder; default: the one the checkpoint was trained on.
        split: random or vis_ok; default: the checkpoint's.
        part: which part of the split to explain: test, val or train.
        spectra: spectra to evaluate a per-spectrum or mixed net on; default: its training spectra.
        num_images: images per model x spectrum, a seeded choice.
        seed: seed of that choice.
        step: insertion/deletion step, a share of the image area.
        min_score: images whose top detection scores lower are reported and left out.
        batch_size: images per forward pass of the perturbation methods and the metric.
        device: cpu or cuda.
        wandb_project: also log to this W&B project (offline when no account is configured).
    """
    explainers = {name: create(name, **(method_settings or {}).get(name, {})) for name in methods}
    output = Path(output)
    (output / "boxes").mkdir(parents=True, exist_ok=True)
    (output / "curves").mkdir(exist_ok=True)
    rows, evaluations, box_pngs, skipped = [], [], [], 0
    names: list[str] = []
    for checkpoint in checkpoints:
        names.append(_model_name(Path(checkpoint), names))
        model_name = names[-1]
        overrides = {k: v for k, v in (("root", root), ("split", split)) if v is not None}
        module, saved_data = load_checkpoint(checkpoint, map_location=device, **overrides, num_workers=0)
        if list(module.hparams.class_names) != list(layout.CLASS_NAMES):
            raise CheckpointError(f"{checkpoint}: trained on classes {list(module.hparams.class_names)}, "
                                  f"the dataset has {list(layout.CLASS_NAMES)}")
        detector = EffdetDetector.from_module(module.to(device))
        scorer = DetectionScorer(detector, MatchedScore(min_score=min_score), batch_size)
        for spectrum_set in evaluation_spectra(saved_data.spectra, saved_data.fusion, spectra):
            data = MultispectralDataModule(**{**saved_data.hparams, "spectra": spectrum_set})
            if data.in_chans != module.hparams.in_chans:
                raise CheckpointError(f"{checkpoint}: the net takes {module.hparams.in_chans} channels, "
                                      f"spectra {spectrum_set} give {data.in_chans}")
            data.setup("test")
            dataset = data.datasets[part]
            if len(dataset) == 0:
                raise DatasetError(f"{data.hparams.root}: the {part!r} part of split {data.hparams.split!r} is empty")
            chosen = sorted(np.random.default_rng(seed).choice(len(dataset), min(num_images, len(dataset)), replace=False))
            evaluation = Evaluation(model_name, "+".join(spectrum_set))
            for index in tqdm(chosen, desc=f"{model_name} on {evaluation.spectrum}", unit="image"):
                sample = dataset[int(index)]
                explained = explain_sample(detector, sample, explainers, scorer, step, min_score,
                                           module.hparams.class_names, data.hparams.mean, data.hparams.std,
                                           model_name, device, title_prefix=f"{model_name} | ")
                if explained is None:
                    skipped += 1
                    log.warning("%s on %s: no detection >= %.2f in image %s; not explained",
                                model_name, evaluation.spectrum, min_score, sample["sample_id"])
                    continue
                evaluation.results += explained.results
                rows += explained.rows
                path = output / "boxes" / f"{model_name}_{evaluation.spectrum}_{sample['sample_id']}.png"
                Image.fromarray(explained.figure).save(path)
                box_pngs.append(path)
            evaluations.append(evaluation)
    if not rows:
        raise DatasetError(f"no image had a detection scoring >= {min_score}; nothing was explained")
    write_csv(output / "boxes.csv", BOX_COLUMNS, rows)
    summary = write_summary(output, summarize(rows, list(methods)), list(methods), step)
    curve_pngs = _curves(output, evaluations, methods)
    notes = [f"checkpoints: {', '.join(str(c) for c in checkpoints)}", f"methods: {', '.join(methods)}; "
             f"insertion/deletion step {step} of the image area; images per model x spectrum: {num_images}; "
             f"images without a detection >= {min_score}: {skipped}"]
    write_report(output, "spectral-xai: explanations", notes, summary, curve_pngs, box_pngs)
    if wandb_project:
        _log_wandb(wandb_project, output, rows, summary, box_pngs, evaluations, methods)
    return output


def _model_name(checkpoint: Path, taken: Sequence[str]) -> str:
    """runs/<name>/checkpoints/x.ckpt -> <name>; otherwise the file's stem; numbered if taken."""
    name = checkpoint.parent.parent.name if checkpoint.parent.name == "checkpoints" else checkpoint.stem
    return name if name not in taken else f"{name}-{len(taken)}"


def _curves(output: Path, evaluations: Sequence[Evaluation], methods: Sequence[str]) -> list[Path]:
    paths = []
    for evaluation in evaluations:
        for method in methods:
            done = [r for r in evaluation.results if r.method == method and r.error is None]
            path = output / "curves" / f"{evaluation.model}_{evaluation.spectrum}_{method}.png"
            curve_plot(path, f"{evaluation.model} on {evaluation.spectrum}: {method}",
                       [r.insertion for r in done], [r.deletion for r in done])
            paths.append(path)
    return paths


def _log_wandb(project: str, output: Path, rows, summary, box_pngs, evaluations, methods) -> None:
    """The callback's keys, once per run: scalars per method, figures, the per-box table."""
    import wandb

    from .loggers import wandb_account_configured

    run = wandb.init(project=project, dir=str(output), job_type="explain",
                     mode="online" if wandb_account_configured() else "offline")
    scalars = {}
    for method in methods:
        done = [r for e in evaluations for r in e.results if r.method == method and r.error is None]
        if done:
            scalars[f"explain/{method}/insertion_auc"] = float(np.mean([r.insertion.auc for r in done]))
            scalars[f"explain/{method}/deletion_auc"] = float(np.mean([r.deletion.auc for r in done]))
            scalars[f"explain/{method}/seconds_per_box"] = float(np.mean([r.seconds for r in done]))
    run.log({**scalars, "explain/maps": [wandb.Image(str(p), caption=p.stem) for p in box_pngs],
             "explain/boxes": wandb.Table(columns=BOX_COLUMNS, data=rows),
             "explain/summary": wandb.Table(columns=summary[0], data=summary[1:])})
    run.finish()
