"""The paper's comparison in one command: train one net per spectrum and the RGB+MIR net on one
shared split of scenes, then explain all of them together (Table 2, spectrum attribution, scene
grids, report.html).

    python reproduce.py --config configs/reproduce_demo.yaml
    python reproduce.py --config configs/reproduce_demo.yaml --root /data/ir_det_dataset

Every net is trained with ``train_config`` and the same data root, seed and split settings, so their
splits of scenes are one split (made of the annotated ids, restricted per net to the ids it can
read); each run writes its ``split.json``. A net whose ``last.ckpt`` already exists is not trained
again, so an interrupted reproduction continues where it stopped.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from jsonargparse import ActionConfigFile, ArgumentParser

from .cli import SpectralCLI
from .data_modules.datamodule import MultispectralDataModule
from .lit_modules import EfficientDetModule
from .posthoc import explain_checkpoints

log = logging.getLogger(__name__)

PAPER_NETS = {"rgb": ["--data.spectra", "[rgb]"], "nir": ["--data.spectra", "[nir]"],
              "mir": ["--data.spectra", "[mir]"], "fir": ["--data.spectra", "[fir]"],
              "rgb_mir": ["--data.spectra", "[rgb, mir]", "--data.fusion", "mixed"]}


def reproduce(
    train_config: str,
    output: str = "runs/reproduce",
    nets: dict[str, list[str]] | None = None,
    train_args: Sequence[str] = (),
    root: str | None = None,
    explain: dict[str, Any] | None = None,
) -> Path:
    """Train every net, then explain them all into ``<output>/explain``; returns that folder.

    Args:
        train_config: the training recipe every net uses (a train.py config).
        output: each net's run goes to ``<output>/<name>`` (checkpoints, split.json, W&B run).
        nets: name -> train.py arguments that make that net; default: rgb, nir, mir, fir and the
            paper's RGB+MIR net (one 3-channel net on both spectra).
        train_args: train.py arguments added for every net (e.g. fewer epochs).
        root: the dataset folder for every net (train.py's ``--data.root``).
        explain: options of :func:`~spectral_xai.posthoc.explain_checkpoints` (methods, settings,
            num_images, ...); checkpoints and output are set here.
    """
    output = Path(output)
    checkpoints = []
    for name, net_args in (nets or PAPER_NETS).items():
        run = output / name
        checkpoint = run / "checkpoints" / "last.ckpt"
        if checkpoint.is_file():
            log.info("%s: %s exists; not trained again", name, checkpoint)
        else:
            # The run's own folders first, so that train_args may still turn the logger off.
            _fit(["--trainer.default_root_dir", str(run), "--trainer.logger.init_args.save_dir", str(run),
                  "--trainer.logger.init_args.name", name, "--checkpoint.dirpath", str(run / "checkpoints"),
                  *train_args, *net_args, *(["--data.root", root] if root else [])], train_config)
        checkpoints.append(checkpoint)
    return explain_checkpoints(checkpoints, output=output / "explain", **(explain or {}))


def _fit(args: list[str], config: str) -> None:
    cli = SpectralCLI(EfficientDetModule, MultispectralDataModule, save_config_kwargs={"overwrite": True},
                      args=["fit", "--config", config, *args])
    experiment = getattr(cli.trainer.logger, "experiment", None)
    if hasattr(experiment, "finish"):
        experiment.finish()  # else the next net's W&B logger would attach to this run


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="reproduce.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file with the options below")
    parser.add_function_arguments(reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("config", "__path__")}
    folder = reproduce(**options)
    print(f"wrote {folder / 'report.html'}")
    return folder
