"""The report's figures, drawn from what :func:`~spectral_xai.posthoc.collect.collect` gathered:
each explained image, each group's curves and method plots, the sanity check, each scene's grid
and the objects one net found and another missed."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from PIL import Image

from ..analysis.complementarity import explained_box
from ..reporting.curves import curve_plot
from ..reporting.figures import explanation_figure, known_cause_figure, sanity_figure, scene_grid
from ..reporting.media import SceneMedia, scene_media
from ..reporting.plots import method_dots, overlaid_curves, sanity_heatmap, spectra_panels
from ..sanity import STAGES
from ..analysis.statistics import group_name
from .collect import Collected


@dataclass
class Drawn:
    """Every figure file by the report section it belongs to, and each scene's media for W&B."""

    boxes: list[Path] = field(default_factory=list)
    sanity: list[Path] = field(default_factory=list)
    curves: list[Path] = field(default_factory=list)
    overlays: list[Path] = field(default_factory=list)
    methods: list[Path] = field(default_factory=list)
    sanity_maps: list[Path] = field(default_factory=list)
    scenes: list[Path] = field(default_factory=list)
    complementarity: list[Path] = field(default_factory=list)
    known_causes: list[Path] = field(default_factory=list)
    media: list[SceneMedia] = field(default_factory=list)


def draw_figures(folder: Path, collected: Collected, sanity_entries: Sequence[dict], limit: int,
                 media: bool) -> Drawn:
    """Every figure into ``folder``; ``media``: also each scene as W&B's media, from the same figure."""
    drawn = Drawn()
    _draw_images(folder, collected, drawn, media)
    _draw_groups(folder, collected, drawn)
    for (model, spectrum), entries in itertools.groupby(sanity_entries, key=lambda e: (e["model"], e["spectrum"])):
        drawn.sanity_maps.append(sanity_heatmap(folder / "plots" / f"{model}_{spectrum}_sanity.png", list(entries), STAGES))
    (folder / "scenes").mkdir()
    for scene, rows in collected.grids.items():
        drawn.scenes.append(folder / "scenes" / f"{scene}.png")
        Image.fromarray(scene_grid(rows)).save(drawn.scenes[-1])
    drawn.complementarity = _complementarity_grids(folder, collected, limit)
    drawn.known_causes = _known_cause_examples(folder, collected)
    return drawn


def _known_cause_examples(folder: Path, collected: Collected) -> list[Path]:
    """Per net x spectrum, one detection judged against its known causes: the first running car whose
    cue was rendered away (the decisive case), else the first box with a measurable cause."""
    examples: dict[str, tuple[int, Path, object, int]] = {}
    for shown in collected.shown:
        explanation = shown.item.explanation
        for result in explanation.results:
            if not result.measurable_cause or result.target.kind != "detection" or result.cause_regions is None:
                continue
            rank = 0 if "cue" in result.cause_effects else 1
            key = f"{shown.net}_{shown.item.spectrum}"
            if key not in examples or rank < examples[key][0]:
                examples[key] = (rank, folder / "known_causes" / f"{shown.stem}_box{result.box}.png", shown, result.box)
    drawn = []
    for rank, path, shown, box in examples.values():
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(known_cause_figure(shown.item.explanation, box, shown.spec, title_prefix=f"{shown.net} | ")).save(path)
        drawn.append(path)
    return drawn


def _draw_images(folder: Path, collected: Collected, drawn: Drawn, media: bool) -> None:
    (folder / "boxes").mkdir()
    for shown in collected.shown:
        explanation = shown.item.explanation
        figure = explanation_figure(explanation, shown.spec, title_prefix=f"{shown.net} | ")
        if media:  # the same figure, drawn once
            drawn.media.append(scene_media(explanation, shown.spec, prefix=shown.net, figure=figure))
        drawn.boxes.append(folder / "boxes" / f"{shown.stem}.png")
        Image.fromarray(figure).save(drawn.boxes[-1])
        if shown.item.sanity:
            (folder / "sanity").mkdir(exist_ok=True)
            drawn.sanity.append(folder / "sanity" / f"{shown.stem}.png")
            Image.fromarray(sanity_figure(explanation, shown.item.sanity, STAGES, shown.spec,
                                          title_prefix=f"{shown.net} | ")).save(drawn.sanity[-1])


def _draw_groups(folder: Path, collected: Collected, drawn: Drawn) -> None:
    """Per net x spectrum x kind of target: each method's curves, every method's mean curve on one
    axis and the methods' dots; across the nets, the spectra's panels."""
    (folder / "curves").mkdir()
    (folder / "plots").mkdir()
    methods = collected.methods
    for entry, ((model, spectrum, kind), results) in zip(collected.table, collected.groups.items()):
        name, stem = group_name((model, spectrum, kind)), f"{model}_{spectrum}{'' if kind == 'detection' else '_' + kind}"
        for method in methods:
            drawn.curves.append(folder / "curves" / f"{stem}_{method}.png")
            curve_plot(drawn.curves[-1], f"{name}: {method}", [r for r in results if r.method == method])
        drawn.methods.append(method_dots(folder / "plots" / f"{stem}_methods.png", name, entry, methods))
        drawn.overlays.append(overlaid_curves(folder / "plots" / f"{stem}_curves.png", f"{name}: every method", results,
                                              methods))
    if sum(entry["targets"] == "detection" for entry in collected.table) > 1:
        drawn.methods.append(spectra_panels(folder / "plots" / "spectra.png", collected.table, methods))


def _complementarity_grids(folder: Path, collected: Collected, limit: int) -> list[Path]:
    """Up to ``limit`` figures (night first), one per object found by one net x spectrum and missed by
    another where both explained it: the finder's detection above the other's miss."""
    pngs = []
    for record in sorted(collected.records, key=lambda r: (r.condition.name != "night", r.scene, r.index)):
        for finder, misser in ((f, m) for f in record.finders for m, o in record.outcomes.items() if not o.found):
            if len(pngs) >= limit:
                return pngs
            found, missed = collected.explanation_of(finder, record.scene), collected.explanation_of(misser, record.scene)
            if not found or not missed:
                continue
            rows = []
            for (explanation, spec), kind, name in ((found, "detection", finder), (missed, "missed", misser)):
                one = explained_box(explanation, kind, record.label, record.outcomes[name].box)
                if one is not None:
                    rows.append((f"{'found' if kind == 'detection' else 'missed'} by {name} | ", one, spec))
            if len(rows) == 2:
                (folder / "complementarity").mkdir(exist_ok=True)
                pngs.append(folder / "complementarity" / f"{record.scene}_{record.index}_{len(pngs)}.png")
                Image.fromarray(scene_grid(rows)).save(pngs[-1])
    return pngs
