"""Images a user brings rather than the dataset's layout: a folder or a list of files in any size
and any format PIL reads, ``.npy`` arrays holding every spectrum of a stacked (early-fusion)
input, or images already in memory (numpy arrays, torch tensors, PIL images); read as the net takes
them (resized to its square input, normalised as in training). Each sample carries the factors from
the net's input back to the image's own pixels, so that boxes are reported there. They carry no
annotations, so what needs annotated objects (missed objects, false positives, the localisation
metrics' "annotation" reference) is not available for them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..settings import UserError
from .transforms import build_transform, input_to_image

#: What a folder is searched for (a list or a single path may name any file PIL can read).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy")
#: An image already in memory: H x W (x C) or C x H x W, uint8, uint16 or float in [0, 1].
InMemory = Union[np.ndarray, torch.Tensor, Image.Image]
#: One image: a file, one in memory, or per spectrum of a stacked input a file (``{"rgb": a.png, "mir": b.png}``).
UserImage = Union[str, Path, InMemory, Mapping[str, Union[str, Path]]]
#: Above this many values an axis is an image side, not channels (what tells H x W x C from C x H x W).
MAX_CHANNELS = 16


class UserImageError(UserError, ValueError):
    """A file the user named that cannot be read as an image the net can take."""


def image_files(given: UserImage | Sequence[UserImage]) -> list[UserImage]:
    """The images ``given`` names: a folder's image files (sorted), a file, an image in memory (a
    4-D array or tensor: a batch of them), or a list of any of these."""
    if isinstance(given, (np.ndarray, torch.Tensor)):
        return list(given) if given.ndim == 4 else [given]
    if isinstance(given, Image.Image):
        return [given]
    if isinstance(given, (str, Path)):
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UserImageError(f"{path}: a folder with no image files ({', '.join(IMAGE_SUFFIXES)})")
            return found
        if not path.is_file():
            raise UserImageError(f"{path}: no such image file or folder")
        return [path]
    if isinstance(given, Mapping):
        return [given]
    items = [item for entry in given for item in image_files(entry)]
    if not items:
        raise UserImageError("no images given")
    return items


def read_user_image(given: str | Path | InMemory, name: str | None = None) -> np.ndarray:
    """H x W x C float32 in [0, 1]: 8-bit values divided by 255, 16-bit and other integer images
    stretched from their minimum to their maximum (as the dataset's thermal PNGs are read), one
    grey channel repeated to three, an alpha channel dropped. A ``.npy`` array (H x W or H x W x C)
    is read the same way, floats taken as they are (they must lie in [0, 1]); so is an image in
    memory (a numpy array H x W x C, a tensor C x H x W, or either the other way round where the
    channels are plain to see). An image of several frames is refused: which one would be meant?"""
    path = Path(name or given) if isinstance(given, (str, Path)) else Path(name or "image")
    try:
        if isinstance(given, (np.ndarray, torch.Tensor)):
            array = _channels_last(given)
        elif isinstance(given, Image.Image):
            array = _pixels(given, path)
        elif path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            with Image.open(path) as image:
                array = _pixels(image, path)
    except UserImageError:
        raise
    except (OSError, ValueError, UnidentifiedImageError) as err:
        raise UserImageError(f"{path}: cannot be read as an image ({err})") from None
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or min(array.shape[:2]) < 1:
        raise UserImageError(f"{path}: an array of shape {array.shape}, not H x W or H x W x C")
    if array.shape[2] in (2, 4):  # grey + alpha, RGB + alpha
        array = array[:, :, :-1]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return _unit_range(path, array)


def _pixels(image: Image.Image, path: Path) -> np.ndarray:
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise UserImageError(f"{path}: an image of {frames} frames (animated or multi-page); save the frames to "
                             "explain as images of their own")
    return np.asarray(image.convert("RGB") if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV") else image)


def _channels_last(given: np.ndarray | torch.Tensor) -> np.ndarray:
    """H x W x C from a numpy array (H x W x C unless only its first axis can be channels) or a
    tensor (C x H x W unless only its last axis can be channels)."""
    tensor = isinstance(given, torch.Tensor)
    if tensor:
        given = given.detach().cpu()
        given = given.float() if given.dtype in (torch.float16, torch.bfloat16) else given
    array = given.numpy() if tensor else np.asarray(given)
    if array.ndim != 3:
        return array
    first, last = array.shape[0] <= MAX_CHANNELS, array.shape[2] <= MAX_CHANNELS
    channels_first = (first and not last) if not tensor else (first or not last)
    return np.moveaxis(array, 0, -1) if channels_first else array


def _unit_range(path: Path, array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        array = array.astype(np.float32)
        low, high = float(array.min()), float(array.max())
        return (array - low) / (high - low) if high > low else np.zeros_like(array)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise UserImageError(f"{path}: float pixels must be finite and in [0, 1]")
        return array.astype(np.float32)
    raise UserImageError(f"{path}: pixel type {array.dtype} is not an image's")


class UserImages(Dataset):
    """User images as the dataset's samples (``image``, ``sample_id``, ``spectrum``; no boxes), for a
    net that takes ``spectra`` with ``fusion``: one spectrum per file for a single-spectrum or mixed
    net (its images explained as ``spectrum``), or every spectrum of a stacked net in one ``.npy``
    or one file per spectrum. The sample id is the file's stem (numbered where two share one)."""

    def __init__(self, images: Sequence[UserImage], spectrum: str, in_chans: int, image_size: int,
                 mean: Sequence[float], std: Sequence[float]):
        self.images, self.spectra = list(images), spectrum.split("+")
        self.in_chans = in_chans
        repeat = in_chans // 3
        self.transform = build_transform(image_size, in_chans, list(mean) * repeat, list(std) * repeat, train=False)
        self.ids: list[str] = []
        for position, image in enumerate(self.images):
            stem = Path(next(iter(image.values())) if isinstance(image, Mapping) else image).stem \
                if isinstance(image, (str, Path, Mapping)) else f"image_{position}"
            self.ids.append(stem if stem not in self.ids else f"{stem}_{len(self.ids)}")
        self.records: list = []  # no annotated records: nothing here has annotations

    def __len__(self) -> int:
        return len(self.images)

    @property
    def sample_ids(self) -> list[str]:
        return list(self.ids)

    def indices_of(self, sample_ids: Sequence[str]) -> list[int]:
        wanted = set(sample_ids)
        return [i for i, sample_id in enumerate(self.ids) if sample_id in wanted]

    def __getitem__(self, index: int) -> dict:
        image = self._read(self.images[index], self.name(index))
        out = self.transform(image=image, bboxes=np.zeros((0, 4), dtype=np.float32), labels=[])
        return {"image": torch.from_numpy(out["image"].transpose(2, 0, 1).copy()),
                "boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
                "sample_id": self.ids[index], "spectrum": "+".join(self.spectra),
                "image_scale": input_to_image(image, out["image"])}

    def name(self, index: int) -> str:
        """How errors name the image: its path, or ``image <position>`` for one given in memory."""
        image = self.images[index]
        return str(dict(image)) if isinstance(image, Mapping) else str(image) if isinstance(image, (str, Path)) \
            else f"image {index}"

    def _read(self, image: UserImage, name: str) -> np.ndarray:
        if isinstance(image, Mapping):
            missing = [s for s in self.spectra if s not in image]
            if missing:
                raise UserImageError(f"{dict(image)}: no file for spectra {missing} of the net's {self.spectra}")
            parts = [read_user_image(image[s]) for s in self.spectra]
            if len({p.shape[:2] for p in parts}) > 1:
                raise UserImageError(f"{dict(image)}: the spectra's images differ in size")
            array = np.concatenate(parts, axis=2)
        else:
            array = read_user_image(image, name)
        if array.shape[2] != self.in_chans:
            raise UserImageError(f"{name}: {array.shape[2]} channels, but the net takes {self.in_chans} "
                                 f"({'+'.join(self.spectra)}: 3 per spectrum)")
        return array
