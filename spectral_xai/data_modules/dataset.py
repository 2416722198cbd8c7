"""The torch Dataset: indexed records -> normalised image tensors and boxes for one fusion mode."""
from __future__ import annotations

from typing import Literal, Sequence

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset

from .images import read_image
from .known_causes import SceneCauses
from .reader import SampleRecord
from .transforms import input_to_image

Fusion = Literal["mixed", "early"]


class MultispectralDetectionDataset(Dataset):
    """``mixed``: one 3-channel sample per (record, spectrum) — the paper's RGB+MIR network sees
    each spectrum as a separate image; with one spectrum this is the plain per-spectrum dataset.
    ``early``: one sample per record, the spectra stacked on the channel axis (3 per spectrum).
    """

    def __init__(self, records: Sequence[SampleRecord], spectra: Sequence[str], fusion: Fusion, transform: A.Compose):
        self.records = list(records)
        self.spectra = list(spectra)
        self.fusion = fusion
        self.transform = transform
        if fusion == "early":
            self.items = [(r, tuple(self.spectra)) for r in self.records]
        else:
            self.items = [(r, (s,)) for r in self.records for s in self.spectra]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def sample_ids(self) -> list[str]:
        """The scenes of this dataset, in order."""
        return [r.sample_id for r in self.records]

    def indices_of(self, sample_ids: Sequence[str]) -> list[int]:
        """The items of these scenes (each of their spectra for a mixed dataset), in item order;
        ids the dataset lacks are skipped."""
        wanted = set(sample_ids)
        return [i for i, (record, _) in enumerate(self.items) if record.sample_id in wanted]

    def __getitem__(self, index: int) -> dict:
        record, spectra = self.items[index]
        image = np.concatenate([read_image(record.paths[s]) for s in spectra], axis=2)
        out = self.transform(image=image, bboxes=record.boxes, labels=record.labels)
        boxes = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
        return {
            "image": torch.from_numpy(out["image"].transpose(2, 0, 1).copy()),
            "boxes": torch.from_numpy(boxes),  # x1 y1 x2 y2 in pixels of the network input
            "labels": torch.as_tensor(np.asarray(out["labels"]), dtype=torch.int64).reshape(-1),
            "sample_id": record.sample_id,
            "spectrum": "+".join(spectra),
            "image_scale": input_to_image(image, out["image"]),  # boxes are reported in the file's pixels
            # Rendered data only: what can be rendered away, read when first asked for.
            **({"causes": SceneCauses(record, spectra, self.transform)} if record.scene is not None else {}),
        }


def collate(samples: list[dict]) -> dict:
    """Stack images; keep boxes and labels as per-image lists (their counts differ)."""
    return {
        "image": torch.stack([s["image"] for s in samples]),
        "boxes": [s["boxes"] for s in samples],
        "labels": [s["labels"] for s in samples],
        "sample_id": [s["sample_id"] for s in samples],
        "spectrum": [s["spectrum"] for s in samples],
    }
