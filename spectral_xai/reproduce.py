"""The paper's comparison in one command: train the RGB, NIR, MIR, FIR and RGB+MIR nets on one
shared split of scenes, then explain them all (Table 2, spectrum attribution, scene grids,
report.html).

    python reproduce.py --config configs/reproduce_demo.yaml
    python reproduce.py --config configs/reproduce_demo.yaml --root /data/ir_det_dataset
    python reproduce.py --config configs/reproduce_demo.yaml --nets rgb fir --train_args '--trainer.max_epochs 2'
    python reproduce.py --config configs/reproduce_demo.yaml --seeds [0,1,2]
    python reproduce.py --config configs/reproduce_paper.yaml --train_args '--trainer.strategy ddp'

Every net is trained with ``train_config`` and the same data root, seed and split settings, so their
splits of scenes are one split (made of the annotated ids, restricted per net to the ids it can
read); each run writes its ``split.json``. With ``seeds``, every net is trained once per training
seed on that split, and the spectra are compared with the seed as a replicate. Under DDP the
launcher re-runs this script for every other rank: each trains beside rank 0, which alone explains. Every setting (each net's training arguments, the
explanation options) is checked before the first net trains. An interrupted reproduction finishes
what it started: a net (of each seed) whose ``last.ckpt`` has reached the planned epochs is skipped, one that has
not is resumed from it (mid-epoch where it was stopped, in the same W&B run), and the log says which.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

import torch.distributed as dist
from jsonargparse import ActionConfigFile

from .checkpoint import read_checkpoint
from .train_cli import SpectralCLI
from .data_modules.datamodule import MultispectralDataModule
from .explaining import Explainer
from .explain_settings import ExplainSettings
from .explain_cli import OneLineParser, joined_lists
from .lit_modules import EfficientDetModule
from .analysis.seeds import design_check
from .posthoc import RunOptions, explain_checkpoints, explain_options
from .posthoc.options import DEFAULT_SCENES
from .settings import SettingsError, guard_yaml_configs, name_list, one_line, unknown_name, user_error_in

log = logging.getLogger(__name__)

PAPER_NETS = {"rgb": ["--data.spectra", "[rgb]"], "nir": ["--data.spectra", "[nir]"],
              "mir": ["--data.spectra", "[mir]"], "fir": ["--data.spectra", "[fir]"],
              "rgb_mir": ["--data.spectra", "[rgb, mir]", "--data.fusion", "mixed"]}
#: explain.py options a reproduction has unless its ``explain`` says otherwise: every detection, not
#: only each image's top one, so that spectra can be compared on the same annotated objects.
EXPLAIN_DEFAULTS = {"boxes": "all"}
#: One net's spread over training seeds and a scene's spread of a spectrum contrast's AUC over the box's
#: unperturbed score (medians over the contrasts), the design check's default: configs/reproduce_demo.yaml's
#: RGB, MIR and FIR nets of seeds 0, 1 and 2 explained by Grad-CAM and the baselines on 30 test scenes
#: (benchmarks/demo_spreads.py, benchmarks/results/demo_spreads.json; a test holds them equal).
DEMO_SPREADS = (0.027, 0.044)


def reproduce(
    train_config: str,
    output: str = "runs/reproduce",
    nets: dict[str, list[str]] | str | list[str] | None = None,
    train_args: str | list[str] = (),
    root: str | None = None,
    seeds: list[int] | str | None = None,
    explain: dict[str, Any] | None = None,
    pilot: str | None = None,
) -> Path | None:
    """Train every net (or finish it), then explain them all into ``<output>/explain``; returns that
    folder (None in a process of another DDP rank than 0, which trains and leaves the explaining).

    Args:
        train_config: the training recipe every net uses (a train.py config).
        output: each net's run goes to ``<output>/<name>`` (checkpoints, split.json, W&B run).
        nets: which nets: names of the paper's (rgb, nir, mir, fir, rgb_mir; ``rgb fir``,
            ``rgb,fir`` or a list), or name -> train.py arguments that make that net; default:
            all five paper nets (the RGB+MIR one is one 3-channel net on both spectra).
        train_args: train.py arguments added for every net (e.g. fewer epochs), as a list or one
            string ``'--trainer.max_epochs 2'``.
        root: the dataset folder for every net (train.py's ``--data.root``).
        seeds: training seeds: each net is trained once per seed (``--seed_everything``) into
            ``<output>/<name>-seed<k>``, on the same split of scenes (the split's own seed is
            ``data.seed``), and the nets of one name are explained as one family, the seed a
            replicate; default: once, with the config's seed, into ``<output>/<name>``.
        explain: explain.py's options, flat as in its ``--config``: the fields of
            :class:`~spectral_xai.explain_settings.ExplainSettings` (methods, method_settings, scoring, ...)
            and of :class:`~spectral_xai.posthoc.RunOptions` (num_images, ...);
            checkpoints and output are set here; ``boxes`` is ``all`` unless given (:data:`EXPLAIN_DEFAULTS`).
        pilot: a finished run's comparisons.json, whose spectrum contrasts give the spreads over seeds
            and over scenes for the design check printed before anything trains (the smallest
            difference the planned seeds and scenes can decide); default: the demo's spreads
            (:data:`DEMO_SPREADS`).
    """
    output = Path(output)
    settings, explain_run = explanation_options(explain)
    seed_list = training_seeds(seeds)
    print(f"design check: {planned_design(len(seed_list or [0]), explain_run, settings.equivalence_margin, pilot)}")
    explainer = Explainer(settings)
    runs = {run: _train_args(output / run, run, _arguments(train_args), net_args + seed_args, root)
            for name, net_args in chosen_nets(nets).items() for run, seed_args in seeded_runs(name, seed_list)}
    plans = {}
    for name, args in runs.items():  # every net's settings checked before the first trains
        cli = _configured(args, train_config)
        explainer.check_net(cli.model.detector().net)
        epochs = cli.trainer.max_epochs
        plans[name] = epochs if epochs is not None and epochs >= 0 else None
    rank = train_all(runs, plans, output, train_config)
    if rank != 0:
        # Under DDP the launcher re-runs this script for every other rank: each trains its share of
        # every net beside rank 0, and rank 0 alone explains them.
        log.info("rank %d: every net trained; rank 0 explains them", rank)
        return None
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()  # training's group is gone with its other ranks; explaining has its own devices
    checkpoints = [output / name / "checkpoints" / "last.ckpt" for name in runs]
    return explain_checkpoints(checkpoints, settings, dataclasses.replace(explain_run, output=output / "explain"))


def explanation_options(explain: dict[str, Any] | None) -> tuple[ExplainSettings, RunOptions]:
    """A reproduction's explanation settings and run options: its ``explain`` over :data:`EXPLAIN_DEFAULTS`."""
    return explain_options({**EXPLAIN_DEFAULTS, **(explain or {})}, fixed=("output",))


def train_all(runs: dict[str, list[str]], plans: dict[str, int | None], output: Path, config: str) -> int:
    """Train every run that has not reached its planned epochs (resumed from its ``last.ckpt``
    where it has one); the rank of this process in the last training (0 without DDP or training)."""
    rank = 0
    for name, args in runs.items():
        last = output / name / "checkpoints" / "last.ckpt"
        planned = plans[name]
        if not last.is_file():
            rank = _fit(args, config)
            continue
        done = epochs_done(last)
        if planned is not None and done >= planned:
            log.info("%s: %s has reached its planned epochs (%d); not trained again", name, last, planned)
            continue
        log.info("%s: %s stopped after %d of %s planned epochs; resuming it", name, last, done, planned or "the")
        rank = _fit([*args, "--ckpt_path", str(last)], config)
    return rank


def chosen_nets(nets: dict[str, list[str]] | str | Sequence[str] | None) -> dict[str, list[str]]:
    """Name -> train.py arguments: given as such, or picked by name from the paper's nets."""
    if nets is None:
        return dict(PAPER_NETS)
    if isinstance(nets, dict):
        return {str(name): _arguments(args) for name, args in nets.items()}
    chosen = name_list(nets, "nets")
    for name in chosen:
        if name not in PAPER_NETS:
            raise unknown_name("net", name, PAPER_NETS)
    if not chosen:
        raise SettingsError("nets: name at least one net")
    return {name: PAPER_NETS[name] for name in chosen}


def training_seeds(seeds: Sequence[int] | str | None) -> list[int] | None:
    """The training seeds as given (a list, or ``0,1,2`` as typed), each a whole number named once."""
    if seeds is None:
        return None
    words = name_list(seeds, "seeds") if isinstance(seeds, str) else list(seeds)
    try:
        chosen = [int(word) for word in words]
    except ValueError:
        chosen = []
    if not chosen or len(set(chosen)) < len(chosen) or any(str(c) != str(w).strip() for c, w in zip(chosen, words)):
        raise SettingsError(f"seeds: name each training seed once as a whole number, e.g. [0, 1, 2]; got {seeds}")
    return chosen


def seeded_runs(name: str, seeds: Sequence[int] | None) -> list[tuple[str, list[str]]]:
    """A net's runs: (run name, the arguments that seed it), once per training seed."""
    if seeds is None:
        return [(name, [])]
    return [(f"{name}-seed{seed}", ["--seed_everything", str(seed)]) for seed in seeds]


def _arguments(args: str | Sequence[str]) -> list[str]:
    """train.py arguments as a list, or one string split as a shell would."""
    return shlex.split(args) if isinstance(args, str) else [str(a) for a in args]


def epochs_done(checkpoint: Path) -> int:
    """How many epochs the run behind ``checkpoint`` had finished (Lightning's own count)."""
    saved = read_checkpoint(checkpoint, mmap=True)
    return int(saved["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])


def _train_args(run: Path, name: str, train_args: list[str], net_args: list[str], root: str | None) -> list[str]:
    # The run's own folders first, so that train_args may still turn the logger off.
    return ["--trainer.default_root_dir", str(run), "--trainer.logger.init_args.save_dir", str(run),
            "--trainer.logger.init_args.name", name, "--checkpoint.dirpath", str(run / "checkpoints"),
            *train_args, *net_args, *(["--data.root", root] if root else [])]


def _configured(args: list[str], config: str) -> SpectralCLI:
    """The net's whole configuration built without training, and so checked (a wrong argument, a
    callback's settings); its trainer says how many epochs are planned."""
    return SpectralCLI(EfficientDetModule, MultispectralDataModule, run=False, args=["--config", config, *args])


def _fit(args: list[str], config: str) -> int:
    """Train one net; the rank of this process in its training (0 without DDP)."""
    cli = SpectralCLI(EfficientDetModule, MultispectralDataModule, save_config_kwargs={"overwrite": True},
                      args=["fit", "--config", config, *args])
    experiment = getattr(cli.trainer.logger, "experiment", None)
    if hasattr(experiment, "finish"):
        experiment.finish()  # else the next net's W&B logger would attach to this run
    return cli.trainer.global_rank


def planned_design(seeds: int, run: RunOptions, margin: float, pilot: str | None) -> str:
    """The design check's sentence for ``seeds`` nets a side over the scenes ``run`` explains, from the
    pilot's median spreads (each contrast's spread of its pairs of nets' means over sqrt 2 for one
    net's, and of its per-scene means) or the demo's."""
    seed_sd, scene_sd = DEMO_SPREADS
    if pilot is not None:
        try:
            rows = [r for r in json.loads(Path(pilot).read_text())["rows"] if r["table"] == "spectra"]
        except (OSError, ValueError, KeyError) as error:
            raise SettingsError(f"pilot {pilot}: not a comparisons.json explain.py wrote ({error})") from error
        seeded = [r for r in rows if r["repeat_sd"] is not None and math.isfinite(r["repeat_sd"])]
        if not seeded:
            raise SettingsError(f"pilot {pilot}: no spectrum contrast over several seeds a side to take spreads from")
        seed_sd = statistics.median(r["repeat_sd"] for r in seeded) / math.sqrt(2)
        scene_sd = statistics.median(r["scene_sd"] for r in seeded)
    scenes = run.num_images or DEFAULT_SCENES
    return design_check(seeds, scenes, margin, seed_sd, scene_sd)[1]


def build_parser() -> OneLineParser:
    guard_yaml_configs()
    parser = OneLineParser(prog="reproduce.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file with the options below")
    parser.add_function_arguments(reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> Path | None:
    """reproduce.py: a mistake in any setting is one line and exit 2, before anything is trained;
    a stop by SIGTERM leaves the net's checkpoint at the step reached and exits 128 + 15."""
    parser = build_parser()
    args = parser.parse_args(joined_lists(sys.argv[1:] if argv is None else argv, ("--nets", "--seeds")))
    options = {k: v for k, v in vars(args).items() if k not in ("config", "__path__")}
    try:
        folder = reproduce(**options)
    except Exception as err:
        mistake = user_error_in(err)
        if mistake is None:
            raise
        print(f"reproduce.py: error: {one_line(mistake)}", file=sys.stderr)
        sys.exit(2)
    if folder is not None:
        print(f"wrote {folder / 'report.html'}")
    return folder
