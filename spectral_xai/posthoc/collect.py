"""Everything the report shows, gathered from the explained scenes without touching a disk: the
box table, the results grouped per net x spectrum x kind of target, Table 2, the comparisons, how
each net did on each annotated object, and which explanations get a figure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

from ..analysis.complementarity import Condition, ObjectRecord, object_records
from ..explaining import Explainer
from ..results import BoxResult, GroupKey, SampleExplanation, SanityResult, group_results
from ..reporting.box_table import box_table
from ..reporting.figures import GridRow
from ..reporting.spec import ImageSpec
from ..analysis.reliability import control_rankings, metric_reliability
from ..analysis.spectrum_truth import spectrum_truth
from ..analysis.truth import metric_truth
from ..reporting.tables import result_scalars, summarize
from ..analysis.contrasts import comparisons
from ..analysis.statistics import Comparison
from .run import ExplainedScene


class Net(Protocol):
    """What the report needs of a checkpoint: its name, its family (the nets that differ from it only
    by their training seed) and how to draw its inputs."""

    name: str
    family: str
    spec: ImageSpec


@dataclass
class Shown:
    """One explained image that gets its figure: the net that explained it and the evaluation."""

    net: str
    spec: ImageSpec
    item: ExplainedScene

    @property
    def stem(self) -> str:
        return f"{self.net}_{self.item.spectrum}_{self.item.sample_id}"


@dataclass
class Collected:
    methods: list[str]
    columns: list[str]  # boxes.csv
    rows: list[list]
    shown: list[Shown]
    skipped: int  # evaluations with nothing to explain
    groups: dict[GroupKey, list[BoxResult]]
    table: list[dict]  # Table 2, one entry per group
    compared: list[Comparison]
    records: list[ObjectRecord]  # each annotated object as each net x spectrum saw it
    evaluated: list[str]  # every net x spectrum (``"<net> on <spectrum>"``), in order
    reliability: list[dict]  # how far each metric can be trusted (:func:`~spectral_xai.analysis.reliability.metric_reliability`)
    truth: list[dict]  # which metric agrees with the known causes (:func:`~spectral_xai.analysis.truth.metric_truth`)
    controls: list[dict]  # each metric against the negative controls (:func:`~spectral_xai.analysis.reliability.control_rankings`)
    spectra_truth: list[dict]  # spectrum attribution against each spectrum's true share (:func:`~spectral_xai.analysis.spectrum_truth.spectrum_truth`)
    sanity: dict[tuple[str, str], list[SanityResult]] = field(default_factory=dict)
    family_of: dict[str, str] = field(default_factory=dict)  # each net's family (nets alike but for their seed)
    grids: dict[str, list[GridRow]] = field(default_factory=dict)  # per scene given a grid, its rows

    @property
    def scalars(self) -> dict[str, float]:
        """The callback's scalars over every explained box (kinds of target kept apart)."""
        return result_scalars([r for results in self.groups.values() for r in results], self.methods)

    def explanation_of(self, net_spectrum: str, scene: str) -> tuple[SampleExplanation, ImageSpec] | None:
        """The explanation a net x spectrum (``"<net> on <spectrum>"``) made of a scene, if it made one."""
        for shown in self.shown:
            if f"{shown.net} on {shown.item.spectrum}" == net_spectrum and shown.item.sample_id == scene:
                return shown.item.explanation, shown.spec
        return None


def collect(nets: Sequence[Net], explainer: Explainer, scenes: Sequence[str], explained: Sequence[ExplainedScene],
            scene_grids: int, conditions: Mapping[str, Condition]) -> Collected:
    """The report's content from every (net, spectrum, scene) evaluation, in their order."""
    shown = [Shown(nets[item.checkpoint].name, nets[item.checkpoint].spec, item)
             for item in explained if item.explanation.targets]
    outcomes: dict[str, dict[str, list]] = {}  # per net x spectrum, per scene: its objects as it saw them
    for item in explained:
        outcomes.setdefault(f"{nets[item.checkpoint].name} on {item.spectrum}", {})[item.sample_id] = item.explanation.objects
    groups: dict[GroupKey, list[BoxResult]] = {}
    sanity: dict[tuple[str, str], list[SanityResult]] = {}
    grids: dict[str, list[GridRow]] = {scene: [] for scene in scenes[:scene_grids]}
    for one in shown:
        group_results(one.item.explanation.results, one.net, groups)
        if one.item.sanity:
            sanity.setdefault((one.net, one.item.spectrum), []).extend(one.item.sanity)
        if one.item.sample_id in grids:
            grids[one.item.sample_id].append((f"{one.net} | ", one.item.explanation, one.spec))
    columns, rows = box_table([(one.net, one.spec.class_names, r) for one in shown for r in one.item.explanation.results],
                              first="model")
    methods, settings = list(explainer.names), explainer.settings
    family_of = {net.name: net.family for net in nets}
    return Collected(methods, columns, rows, shown, len(explained) - len(shown), groups,
                     summarize(groups, methods, settings.inference),
                     comparisons(groups, methods, settings.primary, settings.inference, family_of=family_of),
                     object_records(outcomes, conditions), list(outcomes),
                     metric_reliability(groups, methods, resamples=settings.bootstrap_resamples, seed=settings.bootstrap_seed),
                     metric_truth(groups, methods, settings.bootstrap_resamples, settings.bootstrap_seed)
                     if settings.known_causes else [], control_rankings(groups, methods),
                     spectrum_truth(groups) if settings.known_causes else [], sanity, family_of,
                     {k: v for k, v in grids.items() if v})
