"""Train, validate or test an EfficientDet-D0 on multispectral images.

    python train.py fit --config configs/demo.yaml
    python train.py fit --config configs/paper/rgb.yaml --data.root /data/ir_det_dataset
"""
import logging
import sys

from spectral_xai.cli import SpectralCLI
from spectral_xai.data_modules.datamodule import MultispectralDataModule
from spectral_xai.lit_modules import EfficientDetModule, TrainingDiverged
from spectral_xai.settings import user_error_in


def main() -> None:
    # The package's own progress lines (which scenes each rank explains, a resumed W&B run) at INFO,
    # without turning on every library's INFO through the root logger.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("spectral_xai").addHandler(handler)
    logging.getLogger("spectral_xai").setLevel(logging.INFO)
    logging.getLogger("spectral_xai").propagate = False  # libraries that configure the root logger would print it twice
    try:
        SpectralCLI(EfficientDetModule, MultispectralDataModule, save_config_kwargs={"overwrite": True})
    except TrainingDiverged as err:
        sys.exit(f"train.py: {err}")
    except Exception as err:
        mistake = user_error_in(err)  # a setting, checkpoint or dataset the user gave: one line, exit 2
        if mistake is None:
            raise
        print(f"train.py: error: {mistake}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
