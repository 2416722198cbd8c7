"""explain.py's run in W&B, under the training callback's keys."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..loggers import AutoWandbLogger
from ..reporting.media import SceneMedia
from ..reporting.wandb_media import log_media
from .collect import Collected
from .report import Tables


def log_wandb(run: Mapping[str, Any], folder: Path, collected: Collected, tables: Tables,
              media: Sequence[SceneMedia]) -> None:
    """Scalars per method, a figure per scene, the per-box table with the maps in it, and Table 2;
    the sanity check's table as ``explain/sanity`` when it ran; the report folder as an artifact.
    ``run``: the project, and the id of a run to log into (None: a new one)."""
    import wandb

    resumed = {"id": run["id"], "resume": "allow"} if run["id"] else {}
    logger = AutoWandbLogger(project=run["project"], save_dir=str(folder), job_type="explain", **resumed)
    logger.log_metrics(collected.scalars)
    # ``media`` holds one scene per shown image, and boxes.csv's rows follow the same order
    cells = [(scene, r.box, r.method) for shown, scene in zip(collected.shown, media) for r in shown.item.explanation.results]
    log_media(logger, media, collected.columns, collected.rows, cells, collected.shown[0].spec.class_names)
    logger.log_table("explain/summary", columns=tables.summary[0], data=tables.summary[1:])
    if tables.sanity:
        logger.log_table("explain/sanity", columns=tables.sanity[0], data=tables.sanity[1:])
    report = wandb.Artifact(f"explanation-{logger.experiment.id}", type="explanation",
                            description="explain.py's report folder: report.html, its figures and tables")
    for item in sorted(folder.iterdir()):
        if item.name != "wandb":  # the run's own files, still being written
            (report.add_dir if item.is_dir() else report.add_file)(str(item), name=item.name)
    logger.experiment.log_artifact(report)
    logger.experiment.finish()
