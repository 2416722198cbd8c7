"""The scenes explained: each process its share of them with every net on every spectrum (Lightning
Fabric), the shares gathered in (net, spectra, scene) order whatever the number of processes."""
from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lightning_fabric import Fabric

from ..distributed import gather, shard
from ..results import SampleExplanation
from ..results import SanityResult
from ..sanity import randomised_cascade, sanity_check
from ..scenes import explain_scenes
from .options import RunOptions
from .plan import Plan


@dataclass
class ExplainedScene:
    """One (checkpoint, spectrum, scene) evaluation (its explanation's targets are empty where there
    was nothing to explain)."""

    checkpoint: int  # index into the loaded checkpoints
    evaluation: int  # index into the (checkpoint, spectra) evaluations, which is their order
    sample_id: str
    spectrum: str
    explanation: SampleExplanation
    sanity: list[SanityResult] = field(default_factory=list)  # the randomisation test, for the scenes it ran on


def explain_all(plan: Plan, options: RunOptions) -> list[ExplainedScene]:
    """Every evaluation of every chosen scene, in one process or shared over ``options.devices``.
    ddp_spawn rather than ddp: ddp re-runs the command line for every rank, which would also re-run
    whatever called this (reproduce.py's training, a notebook, pytest)."""
    devices = options.devices
    fabric = Fabric(accelerator=options.accelerator, devices=devices, strategy="ddp_spawn" if devices > 1 else "auto")
    if devices == 1:
        return fabric.launch(explain_share, plan, options.randomisation)
    return _launch_spawned(fabric, plan.portable(), options.randomisation)


def explain_share(fabric: Fabric, plan: Plan, randomisation: str = "permute") -> list[ExplainedScene]:
    """In each process: explain this process's share of the plan's scenes with every net on every
    spectrum (and run the randomisation test, randomising as ``randomisation`` says, on those among
    its ``sanity_scenes``), and gather all shares; returns every evaluation in (net, spectra, scene) order."""
    mine, done, explainer = shard(plan.scenes), [], plan.explainer
    for number, (which, dataset) in enumerate(plan.evaluations):
        checkpoint = plan.loaded[which]
        module = checkpoint.module.to(fabric.device)
        if explainer.settings.channels_last:
            module.use_channels_last()
        detector, spectrum = explainer.prepared(module.detector()), "+".join(dataset.spectra)
        cascade = None  # made once per net, when a scene of the test comes
        for sample, explanation in explain_scenes(explainer, detector, dataset, mine, fabric.device,
                                                  f"{checkpoint.name} on {spectrum}", progress=fabric.global_rank == 0):
            sanity = []
            if explanation.targets and sample["sample_id"] in plan.sanity_scenes:
                cascade = cascade or randomised_cascade(detector, randomisation=randomisation)
                sanity = [r.cpu() for r in sanity_check(explainer, detector, cascade, explanation)]
            done.append(ExplainedScene(which, number, sample["sample_id"], sample["spectrum"], explanation.cpu(), sanity))
    everything = [item for share in gather(done) for item in share]
    return sorted(everything, key=lambda item: (item.evaluation, item.sample_id))


def _launch_spawned(fabric: Fabric, plan: Plan, randomisation: str) -> list[ExplainedScene]:
    """The scenes explained by spawned processes. They get the plan without its nets and load them
    themselves, and rank zero hands the gathered results back in a file: Fabric returns a worker's
    result through a pipe that it reads only after the workers exit, so a result larger than the
    pipe's buffer would never arrive, and multiprocessing would pass tensors through shared-memory
    files, which containers often refuse."""
    handle, name = tempfile.mkstemp(prefix="spectral-xai-shares-", suffix=".pkl")
    os.close(handle)
    try:
        fabric.launch(_explain_spawned, plan, randomisation, Path(name))
        return pickle.loads(Path(name).read_bytes())
    finally:
        os.unlink(name)


def _explain_spawned(fabric: Fabric, plan: Plan, randomisation: str, result: Path) -> None:
    explained = explain_share(fabric, plan.loaded_here(), randomisation)
    if fabric.global_rank == 0:
        result.write_bytes(pickle.dumps(explained))
