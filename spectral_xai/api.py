"""One call from a notebook: explain a checkpoint's detections in its dataset's scenes or in images
the user brings, and get typed results that draw themselves and become a table::

    from spectral_xai import explain
    explained = explain("runs/demo/checkpoints/last.ckpt", methods=["gradcam", "rise"], num_images=2)
    explained[0].figure()        # a PIL image: the image with its box, each method's map
    explained.to_frame()         # one row per box and method (pandas), the columns of boxes.csv

explain.py runs the same :class:`~spectral_xai.explaining.Explainer` over many checkpoints and writes
the report; this is the short way to look at a few images.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from PIL import Image

from .checkpoint import resolve_checkpoint
from .data_modules.datamodule import MultispectralDataModule
from .effdet_weights import load_net
from .data_modules.user_images import UserImage, image_files
from .results import BoxResult, SampleExplanation
from .explaining import Explainer
from .explain_settings import ExplainSettings
from .scenes import choose_scenes, explain_scenes
from .lit_modules import EfficientDetModule
from .posthoc import image_spectra, user_images
from .reporting.figures import explanation_figure
from .reporting.spec import ImageSpec
from .reporting.box_table import box_table
from .settings import Setting, SettingsError

Model = str | Path | tuple[EfficientDetModule, MultispectralDataModule]


@dataclass
class ExplainedImage:
    """Every method's explanation of one image's chosen boxes (:class:`SampleExplanation`), with
    what it takes to draw them."""

    explanation: SampleExplanation
    spec: ImageSpec

    @property
    def results(self) -> list[BoxResult]:
        return self.explanation.results

    def figure(self, panel_inches: float = 2.6) -> Image.Image:
        """The image with each explained box, then each method's map over it with its AUCs."""
        pixels = explanation_figure(self.explanation, self.spec, panel_inches=panel_inches)
        return Image.fromarray(pixels)

    def rows(self) -> list[dict[str, Any]]:
        return Explanations([self]).rows()

    def to_frame(self):
        return Explanations([self]).to_frame()


class Explanations(list):
    """The explained images, in order; :meth:`rows` and :meth:`to_frame` give one row per box and
    method with the columns of explain.py's boxes.csv."""

    def rows(self) -> list[dict[str, Any]]:
        columns, rows = box_table([(None, image.spec.class_names, r) for image in self for r in image.results])
        return [dict(zip(columns, row)) for row in rows]

    def to_frame(self):
        """:meth:`rows` as a pandas DataFrame (pandas is not a dependency: ``pip install pandas``)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_frame() needs pandas (pip install pandas); rows() gives the same as dicts") from None
        return pandas.DataFrame(self.rows())


def explain(
    model: Model,
    images: UserImage | Sequence[UserImage] | None = None,
    *,
    part: str = "test",
    scenes: Sequence[str] | None = None,
    num_images: int | None = None,
    seed: int = 0,
    spectrum: str | None = None,
    settings: ExplainSettings | None = None,
    device: str | torch.device = "cpu",
    **setting_values: Any,
) -> Explanations:
    """Explain the detections of ``model``: a checkpoint written by train.py, a folder or W&B
    artifact holding one, a YAML description of an EfficientDet trained elsewhere
    (:mod:`~spectral_xai.effdet_weights`), or the pair :func:`~spectral_xai.checkpoint.load_checkpoint`
    returns.

    Args:
        images: images of your own instead of the dataset's: a folder, a file, an image in memory
            (a numpy array H x W x C or C x H x W, uint8, uint16 or float in [0, 1]; a torch tensor;
            a PIL image; a 4-D array or tensor holds several), or a list mixing them (any size, any
            format PIL reads, ``.npy`` for a stacked input; see
            :class:`~spectral_xai.data_modules.user_images.UserImages`). An image in memory is named
            ``image_<position>`` in the results, a file by its name. They carry no annotations; their
            boxes are reported in their own pixels (``BoxResult.image_box``, ``image_saliency()``).
        part: without ``images``, the part of the checkpoint's split of scenes to take them from.
        scenes: those scenes (sample ids) of ``part``; otherwise ``num_images`` of them (default: 4
            of the dataset's scenes, or every image of your own), chosen with ``seed`` as explain.py
            chooses.
        spectrum: which spectrum ``images`` are, for a net trained on several (a mixed RGB+MIR net);
            default: the net's first. Dataset scenes are explained on every spectrum the net takes.
        settings: an :class:`ExplainSettings`; or give its fields as keywords
            (``methods=["gradcam"], boxes="all"``), not both.
        device: where the net runs.
    """
    if settings is not None and setting_values:
        raise SettingsError(f"give settings or its fields as keywords ({', '.join(setting_values)}), not both")
    settings = settings or ExplainSettings(**setting_values)
    module, data = load_net(resolve_checkpoint(model)) if isinstance(model, (str, Path)) else model
    dataset = _dataset(data, images, part, spectrum)
    if num_images is not None:
        Setting(int, low=1).check("explain", "num_images", num_images)
    if scenes is not None and not dataset.indices_of(scenes):
        raise SettingsError(f"scenes {list(scenes)}: none is in the {part!r} part")
    if scenes is None:  # every image of your own, or a seeded choice of the dataset's scenes
        scenes = choose_scenes([dataset.sample_ids], num_images or (len(dataset) if images is not None else 4), seed)
    explainer = Explainer(settings)
    explainer.check_net(module.detector().net)
    module = module.eval().to(device)
    if settings.channels_last:
        module.use_channels_last()
    detector, spec = explainer.prepared(module.detector()), ImageSpec.of(data)
    explained = explain_scenes(explainer, detector, dataset, scenes, device, "explain")
    return Explanations(ExplainedImage(explanation.cpu(), spec) for _, explanation in explained)


def _dataset(data: MultispectralDataModule, images: Any, part: str, spectrum: str | None):
    if images is None:
        data.setup("test")
        return data.datasets[part]
    (spectra,) = image_spectra(data, None if spectrum is None else [spectrum])
    return user_images(data, image_files(images), spectra)
