"""What the explanation callback adds to a W&B run per explained epoch, at the paper's settings.

    python benchmarks/wandb_media.py [--image-size 512] [--num-images 16] [--runs DIR ...]

Writes benchmarks/results/wandb_media.json.

A short run of the paper's callback (configs/paper/recipe_trainer.yaml: its methods with the
baselines, 16 validation scenes, the default ``media_pixels``) on the demo's synthetic data at 512
px, one epoch, into an offline W&B run: the bytes of the per-scene figures (the run folder) and of
the table with its image cells (the run's table artifact, staged beside the run until ``wandb
sync`` uploads it). What only costs time is cut (RISE's masks, the insertion/deletion step), and
the net is untrained (``target_min_score`` 0, so that every scene has a box): neither changes how
many images are logged or their size. Synthetic scenes are flat and compress better than camera
images, so the same images are also made and logged from inputs and maps of uniform noise in every
pixel, which no real image exceeds: the bound. ``--runs`` also measures existing run folders (their offline runs
and staged artifacts), e.g. the demo's before and after a change.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml
from PIL import Image

warnings.filterwarnings("ignore")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from result_files import add_results_argument, write_result  # noqa: E402
from spectral_xai.wandb_records import artifacts, finish_run  # noqa: E402

from spectral_xai.cached_nets import synthetic_dataset  # noqa: E402
from spectral_xai.callbacks import ExplanationCallback  # noqa: E402
from spectral_xai.data_modules.datamodule import MultispectralDataModule  # noqa: E402
from spectral_xai.data_modules.layout import CLASS_NAMES  # noqa: E402
from spectral_xai.lit_modules import EfficientDetModule  # noqa: E402
from spectral_xai.loggers import AutoWandbLogger  # noqa: E402
from spectral_xai.detection import Target  # noqa: E402
from spectral_xai.results import BoxResult, ObjectOutcome, SampleExplanation  # noqa: E402
from spectral_xai.metrics import CurveResult  # noqa: E402
from spectral_xai.reporting.media import scene_media  # noqa: E402
from spectral_xai.reporting.spec import ImageSpec  # noqa: E402
from spectral_xai.reporting.wandb_media import log_media  # noqa: E402

REPO = HERE.parent
MB = 1e6


def run_bytes(folder: Path) -> dict[str, float]:
    """MB of every offline run under ``folder``: its run folder (history, per-scene figures,
    console log) and the files of the artifacts it staged (tables with their image cells, models)."""
    runs = sorted(Path(folder).rglob("offline-run-*"))
    own = sum(f.stat().st_size for run in runs for f in run.rglob("*") if f.is_file())
    staged = {}
    for run in runs:
        for artifact in artifacts(next(run.glob("run-*.wandb"))):
            for path in artifact["files"].values():
                staged[path] = path.stat().st_size if path.is_file() else 0
    figures = sum(f.stat().st_size for run in runs for f in (run / "files" / "media" / "images").rglob("*") if f.is_file())
    return {"runs": len(runs), "run_folders_mb": round(own / MB, 2), "figures_mb": round(figures / MB, 2),
            "staged_artifacts_mb": round(sum(staged.values()) / MB, 2), "total_mb": round((own + sum(staged.values())) / MB, 2)}


def paper_callback(args: argparse.Namespace) -> ExplanationCallback:
    """The paper's callback as configured, with only its time costs cut."""
    recipe = yaml.safe_load((REPO / "configs/paper/recipe_trainer.yaml").read_text())
    (init,) = [copy.deepcopy(c["init_args"]) for c in recipe["callbacks"] if c["class_path"].endswith("ExplanationCallback")]
    init["settings"]["method_settings"]["rise"]["n_masks"] = args.rise_masks
    init["settings"].update(step=args.step, target_min_score=0.0)
    init.update(time_budget_s=None, num_images=args.num_images)
    return ExplanationCallback(**init)


def short_run(args: argparse.Namespace, out: Path) -> tuple[dict[str, float], ExplanationCallback]:
    root = synthetic_dataset(num_scenes=300, seed=0)  # the demo's data
    pl.seed_everything(0)
    data = MultispectralDataModule(str(root), spectra=["mir"], image_size=args.image_size, batch_size=2, num_workers=0,
                                   val_fraction=0.15)
    callback = paper_callback(args)
    logger = AutoWandbLogger(save_dir=str(out), offline=True, project="bench")
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                         logger=logger, callbacks=[callback], enable_checkpointing=False, enable_progress_bar=False,
                         num_sanity_val_steps=0)
    trainer.fit(EfficientDetModule(CLASS_NAMES, image_size=args.image_size), data)
    finish_run(logger)
    return run_bytes(out), callback


def noise_bound(args: argparse.Namespace, methods: list[str], pixels: int, out: Path) -> dict:
    """The same images made the same way (each scene's figure with its titles, an input cell and an
    overlay per method) from inputs and maps that are uniform noise in every pixel, logged the same
    way into an offline run."""
    generator = torch.Generator().manual_seed(0)
    size = args.image_size
    curve = CurveResult(torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.0]), 0.25, 1.0)
    target = Target(box=torch.tensor([size / 4, size / 4, size / 2, size / 2]), label=1, score=0.5,
                    class_probs=torch.zeros(len(CLASS_NAMES)), anchor=0)
    scenes = []
    for i in range(args.num_images):
        results = [BoxResult(f"{i:06d}", "mir", target, 0, m, torch.rand(size, size, generator=generator), 0.1, args.step,
                             scores={"deletion_auc": curve.auc, "insertion_auc": curve.auc},
                             curves={"deletion_auc": curve, "insertion_auc": curve}) for m in methods]
        explained = SampleExplanation(f"{i:06d}", "mir", torch.rand(3, size, size, generator=generator), [target], results,
                                      [ObjectOutcome(0, 1, tuple(target.box.tolist()), 0.5, True)])
        scenes.append(scene_media(explained, ImageSpec(CLASS_NAMES), pixels))
    logger = AutoWandbLogger(save_dir=str(out), offline=True, project="bench")
    rows = [[s.sample_id, s.spectrum, 0, m, 0.5] for s in scenes for m in methods]
    log_media(logger, scenes, ["sample_id", "spectrum", "box", "method", "score"], rows,
              [(s, 0, m) for s in scenes for m in methods], CLASS_NAMES, step=0)
    finish_run(logger)
    return run_bytes(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_results_argument(parser)
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--num-images", type=int, default=16, help="the paper config's 16 scenes")
    parser.add_argument("--rise-masks", type=int, default=16, help="cuts time only: the logged images do not change")
    parser.add_argument("--step", type=float, default=0.5, help="cuts time only")
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="also measure these run folders")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        measured, callback = short_run(args, Path(scratch) / "short")
        methods = list(callback.explainer.methods)
        (run,) = (Path(scratch) / "short" / "wandb").glob("offline-run-*")
        shape = Image.open(next((run / "files" / "media" / "images").rglob("*.jpg"))).size[::-1]
        bound = noise_bound(args, methods, callback.media_pixels, Path(scratch) / "bound")
    runs = {str(folder): run_bytes(folder) for folder in args.runs}
    figures_out = {"methods": methods, "scenes_explained": args.num_images - callback.totals["no_detection"],
                   "media_pixels": callback.media_pixels, "figure_px": list(shape), "short_run": measured,
                   "noise_bound": bound, "runs": runs}
    print(f"{args.image_size} px, {len(methods)} methods, {figures_out['scenes_explained']} scenes, cells at "
          f"{callback.media_pixels} px: one explained epoch adds {measured['total_mb']} MB (figures "
          f"{measured['figures_mb']} MB, table artifact {measured['staged_artifacts_mb']} MB); noise bound "
          f"{bound['total_mb']} MB")
    for folder, sizes in runs.items():
        print(f"{folder}: {sizes}")
    write_result("wandb_media", args.results, {**vars(args), "runs": [str(r) for r in args.runs]}, figures_out)


if __name__ == "__main__":
    main()
