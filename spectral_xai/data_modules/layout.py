"""Names of the Multispectral Object Detection Dataset's folders and classes (docs/dataset.md)."""
from __future__ import annotations

from pathlib import Path

from ..settings import UserError

SPECTRA: tuple[str, ...] = ("rgb", "nir", "mir", "fir")
# Index order used by public code that reads the dataset; effdet adds 1 internally.
CLASS_NAMES: tuple[str, ...] = ("bike", "car", "car_stop", "color_cone", "person")

CONVERTED_IMAGES = "ConvertedImages"
RAW_IMAGES = "Images"
CONVERTED_ANNOTATIONS = "Annotations_ConvertedSummarized"
VIS_OK = "vis_ok"
SEQUENCES = "sequences.csv"  # which run of frames each id belongs to, where a dataset says so
SCENES = "Scenes"  # rendered data only: each scene's description (data_modules.scene_files)
CONVERTED_SIZE_WH = (320, 256)
RAW_SIZE_WH = {"rgb": (640, 480), "fir": (640, 480), "mir": (320, 256), "nir": (320, 256)}


def image_path(root: Path, image_dir: str, spectrum: str, sample_id: str) -> Path:
    return root / image_dir / spectrum / f"{sample_id}.png"


def scene_path(root: Path, sample_id: str) -> Path:
    return Path(root) / SCENES / f"{sample_id}.json"


def annotation_path(root: Path, annotation_dir: str, sample_id: str) -> Path:
    return root / annotation_dir / f"{sample_id}.xml"


class DatasetError(UserError, ValueError):
    """The dataset as a whole cannot be used as configured."""
