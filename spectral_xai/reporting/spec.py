"""How a net's inputs are read back into pictures and labels, built once per net and carried with
its explanations to every figure."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class ImageSpec:
    """A net's class names and the normalisation of one 3-channel spectrum (tiled for a stacked
    input)."""

    class_names: tuple[str, ...]
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)

    def __init__(self, class_names: Sequence[str], mean: Sequence[float] = (0.0, 0.0, 0.0),
                 std: Sequence[float] = (1.0, 1.0, 1.0)):
        # a config or checkpoint gives lists; tuples keep the spec hashable and unchangeable
        object.__setattr__(self, "class_names", tuple(class_names))
        object.__setattr__(self, "mean", tuple(float(v) for v in mean))
        object.__setattr__(self, "std", tuple(float(v) for v in std))

    @classmethod
    def of(cls, data: Any) -> "ImageSpec":
        """The spec of a :class:`~spectral_xai.data_modules.MultispectralDataModule`."""
        return cls(data.class_names, data.hparams.mean, data.hparams.std)
