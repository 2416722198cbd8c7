"""Train, validate or test an EfficientDet-D0 on multispectral images.

    python train.py fit --config configs/demo.yaml
    python train.py fit --config configs/paper/rgb.yaml --data.root /data/ir_det_dataset
"""
import sys

from spectral_xai.loading import interruptible_loading

with interruptible_loading("train.py: interrupted"):
    from spectral_xai.train_cli import SpectralCLI, log_progress
    from spectral_xai.data_modules.datamodule import MultispectralDataModule
    from spectral_xai.lit_modules import EfficientDetModule, TrainingDiverged
    from spectral_xai.settings import one_line, user_error_in


def main() -> None:
    log_progress()
    try:
        SpectralCLI(EfficientDetModule, MultispectralDataModule, save_config_kwargs={"overwrite": True})
    except TrainingDiverged as err:
        sys.exit(f"train.py: {err}")
    except KeyboardInterrupt:
        print("train.py: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        mistake = user_error_in(err)  # a setting, checkpoint or dataset the user gave: one line, exit 2
        if mistake is None:
            raise
        print(f"train.py: error: {one_line(mistake)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
