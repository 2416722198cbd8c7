"""explain.py's run from end to end: claim the output folder (writable, nothing in it but an
earlier run's files, locked), plan (load and check every checkpoint, choose the scenes), run
(explain them, over several processes where asked), report (collect, then write into a scratch
folder that takes the output's place only when every file is there: a failed run leaves nothing
half-written, :mod:`~spectral_xai.posthoc.output`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..analysis.complementarity import scene_conditions
from ..data_modules.reader import DatasetError
from ..explaining import Explainer
from ..explain_settings import ExplainSettings
from .collect import Collected, collect
from .options import RunOptions
from .output import claim, publish
from .plan import Plan, make_plan
from .report import write_all
from .run import explain_all
from .wandb_log import log_wandb


def explain_checkpoints(checkpoints: Sequence[str | Path], settings: ExplainSettings | None = None,
                        options: RunOptions | None = None, **option_values: Any) -> Path:
    """Explain detections of dataset images (or of the user's images) with trained checkpoints;
    returns the output folder.

    Args:
        checkpoints: checkpoint files written by train.py, or YAML descriptions of EfficientDets
            trained elsewhere (:mod:`~spectral_xai.effdet_weights`).
        settings: how detections are explained and scored (methods and their settings, the
            scoring rule, which boxes, step, batch size, precision); default: its defaults.
        options: which images, where the report goes, how the run is spread
            (:class:`~spectral_xai.posthoc.options.RunOptions`); or its fields as keywords.
    """
    if options is not None and option_values:
        raise TypeError("give the run's options as a RunOptions or as keywords, not both")
    options = options or RunOptions(**option_values)
    explainer = Explainer(settings or ExplainSettings())
    output = claim(options.output, options.overwrite)
    try:
        plan = make_plan(checkpoints, explainer, options)
        collected = _explained(plan, options)
    except BaseException:
        output.release()
        raise
    described = {**options.described(), "scenes asked for": plan.asked}
    return publish(output, lambda folder: _report(folder, collected, plan, described, options))


def _explained(plan: Plan, options: RunOptions) -> Collected:
    """The plan's scenes explained and the results collected."""
    explained = explain_all(plan, options)
    data = plan.loaded[0].data.hparams
    conditions = scene_conditions(data.root, plan.scenes, options.conditions, options.night_brightness, data.image_dir)
    collected = collect(plan.loaded, plan.explainer, plan.scenes, explained, options.scene_grids, conditions)
    if not collected.rows:
        settings = plan.explainer.settings
        raise DatasetError(f"nothing to explain in any image: no target of kinds {', '.join(settings.targets)} "
                           f"(detections scoring >= {settings.target_min_score})")
    return collected


def _report(folder: Path, collected: Collected, plan: Plan, described: dict[str, Any], options: RunOptions) -> None:
    wandb_run = options.wandb_run
    tables, drawn = write_all(folder, collected, plan, described, options.sanity_check, options.scene_grids,
                              media=wandb_run is not None)
    if wandb_run:
        log_wandb(wandb_run, folder, collected, tables, drawn.media)
