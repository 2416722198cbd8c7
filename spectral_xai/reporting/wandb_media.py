"""Explanations to W&B under the same keys from the training callback and from explain.py, so that
dashboards line up: per scene and spectrum one image key (``explain/maps/<scene>_<spectrum>``), so
that W&B's step slider shows the same scene epoch after epoch, and one table ``explain/boxes`` with
a row per (box, method): the input with its boxes as W&B box data (the explained box with class,
kind and score; the annotated objects as a second group that can be toggled) and the method's
overlay, then every number of the row, so that sorting by a column shows the maps behind it."""
from __future__ import annotations

from typing import Sequence

from pytorch_lightning.loggers import WandbLogger

from .media import BoxData, SceneMedia

MAPS_KEY, BOXES_KEY = "explain/maps", "explain/boxes"
IMAGE_COLUMNS = ("image", "overlay")
#: A figure or cell as JPEG (quality 75) is a sixth of its PNG, its titles still legible: what keeps
#: one paper-config epoch within 10 MB.
MEDIA_FORMAT = "jpg"

Cell = tuple[SceneMedia, int, str]  # the scene, the box's rank in it, the method


def log_media(logger: WandbLogger, scenes: Sequence[SceneMedia], columns: Sequence[str], rows: Sequence[Sequence],
              cells: Sequence[Cell], class_names: Sequence[str], step: int | None = None) -> None:
    """Each scene's figure under its own key, and ``rows`` (one per (box, method), ``cells[i]``
    naming row i's scene, box and method) as the table ``explain/boxes`` with the image columns
    after ``method``."""
    import wandb

    if scenes:
        figures = {f"{MAPS_KEY}/{scene.name}": wandb.Image(scene.figure, caption=scene.name, file_type=MEDIA_FORMAT)
                   for scene in scenes}
        logger.log_metrics(figures, step=step)
    at = list(columns).index("method") + 1
    inputs: dict[tuple[str, int], wandb.Image] = {}  # one input image per box, shared by its methods' rows
    data = []
    for row, (scene, box, method) in zip(rows, cells):
        key = scene.name, box
        if key not in inputs:
            inputs[key] = wandb.Image(scene.image, boxes=box_groups(scene, box, class_names), file_type=MEDIA_FORMAT)
        shown = wandb.Image(scene.overlays[box, method], boxes=box_groups(scene, box, class_names), file_type=MEDIA_FORMAT)
        data.append([*row[:at], inputs[key], shown, *row[at:]])
    table_columns = [*columns[:at], *IMAGE_COLUMNS, *columns[at:]]
    logger.log_table(BOXES_KEY, columns=table_columns, data=data, step=step)


def box_groups(scene: SceneMedia, box: int, class_names: Sequence[str]) -> dict[str, dict]:
    """W&B box data of one explained box: ``explained`` (it, captioned with class, kind and score)
    and ``annotated`` (the scene's annotated objects)."""
    labels = dict(enumerate(class_names))
    return {"explained": {"box_data": [_box_data(scene.targets[box], class_names)], "class_labels": labels},
            "annotated": {"box_data": [_box_data(o, class_names) for o in scene.annotated], "class_labels": labels}}


def _box_data(box: BoxData, class_names: Sequence[str]) -> dict:
    x1, y1, x2, y2 = box.box
    data = {"position": {"minX": x1, "minY": y1, "maxX": x2, "maxY": y2}, "domain": "pixel", "class_id": int(box.label)}
    if box.score is None:
        return {**data, "box_caption": class_names[box.label]}
    kind = "" if box.kind == "detection" else f" ({box.kind.replace('_', ' ')})"
    return {**data, "box_caption": f"{class_names[box.label]} {box.score:.2f}{kind}", "scores": {"score": box.score}}
