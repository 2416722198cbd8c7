"""explain.py's run from end to end: claim the output folder (writable, nothing in it but an
earlier run's files, locked), plan (load and check every checkpoint, choose the scenes), run
(explain them, over several processes where asked), report (collect, then write into a scratch
folder that takes the output's place only when every file is there: a failed run leaves nothing
half-written, :mod:`~spectral_xai.posthoc.output`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..complementarity import scene_conditions
from ..data_modules.reader import DatasetError
from ..data_modules.user_images import image_files
from ..evaluation import Explainer
from ..explain_settings import ExplainSettings
from ..scenes import choose_scenes
from .collect import Collected, collect
from .options import DEFAULT_SCENES, RunOptions, Source
from .output import claim, publish
from .plan import LoadedCheckpoint, check_annotated, evaluations, load_all, load_options
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
        collected, scenes, count, loaded = _explained(checkpoints, explainer, options)
    except BaseException:
        output.release()
        raise
    described = {**options.described(), "scenes asked for": count}
    return publish(output, lambda folder: _report(folder, collected, explainer, loaded, scenes, described, options))


def _explained(checkpoints: Sequence[str | Path], explainer: Explainer, options: RunOptions
               ) -> tuple[Collected, list[str], int, list[LoadedCheckpoint]]:
    """Every checkpoint loaded and checked, the scenes chosen and explained, the results collected."""
    source = Source(options.part, None if options.spectra is None else tuple(options.spectra),
                    None if options.images is None else tuple(image_files(options.images)))
    loaded = load_all(checkpoints, **load_options(options))
    explainer.check_net(loaded[0].module.detector().net)
    planned = list(evaluations(loaded, source))
    check_annotated(explainer, planned, source)
    pools = [dataset.sample_ids for _, dataset in planned]
    count = options.num_images or (len(set().union(*pools)) if source.images else DEFAULT_SCENES)
    scenes = choose_scenes(pools, count, options.seed)
    sanity_scenes = scenes[:options.sanity_images] if options.sanity_check else []
    explained = explain_all(loaded, planned, source, explainer, scenes, sanity_scenes, options)
    data = loaded[0].data.hparams
    conditions = scene_conditions(data.root, scenes, options.conditions, options.night_brightness, data.image_dir)
    collected = collect(loaded, explainer, scenes, explained, options.scene_grids, conditions)
    if not collected.rows:
        raise DatasetError(f"nothing to explain in any image: no target of kinds {', '.join(explainer.settings.targets)} "
                           f"(detections scoring >= {explainer.target_min_score})")
    return collected, scenes, count, loaded


def _report(folder: Path, collected: Collected, explainer: Explainer, loaded: Sequence[LoadedCheckpoint],
            scenes: Sequence[str], described: dict[str, Any], options: RunOptions) -> None:
    wandb_run = options.wandb_run
    tables, drawn = write_all(folder, collected, explainer, loaded, scenes, described, options.sanity_check,
                              options.scene_grids, media=wandb_run is not None)
    if wandb_run:
        log_wandb(wandb_run, folder, collected, tables, drawn.media)
