"""Every comparison a run makes: each pair of methods on the boxes of each net (or family of nets),
each pair of nets x spectra on the same objects, each family of comparisons decided together.

Nets that differ only by their training seed form a *family* (``family_of``: net -> family name;
explain.py finds them, reproduce.py trains them). A family is one arm of a comparison:

- methods are compared on the boxes of all its nets, a scene's boxes of every seed averaged into the
  scene's one value (the scene stays the unit);
- spectra are compared between families with the training seed as a replicate: each pair of nets
  (one per side; the same net twice when one family is explained on two spectra) gives its per-scene
  mean difference on the objects both explained, and a hierarchical bootstrap resamples the seeds,
  then the scenes, for the standard error of a t interval and test
  (:func:`~spectral_xai.analysis.resampling.hierarchical_bootstrap`). Below 3 seeds a side the comparison
  says that it speaks for these nets, not for the spectrum; with one net on a side it is the
  scene-level comparison of :func:`~spectral_xai.analysis.statistics.compare` of these nets, and says so.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .complementarity import same_objects
from .resampling import benjamini_hochberg, hierarchical_bootstrap, holm, variance_components
from ..metrics import registry
from .statistics import (Comparison, Inference, PairedBox, box_values, compare, decide,
                         group_name, paired, scene_means)

if TYPE_CHECKING:
    from ..results import BoxResult, GroupKey

#: Fewer training seeds a side than this make a spectrum contrast one of the nets, not of the spectrum.
FEW_SEEDS = 3
ONE_NET = "one net on a side: it speaks for these nets, not for their spectra in general"
FEW_NETS = (f"fewer than {FEW_SEEDS} training seeds a side: the spread over seeds is barely estimated; read it as "
            "speaking for these nets, not for their spectra in general")


def family_groups(groups: Mapping[GroupKey, Sequence[BoxResult]], family_of: Mapping[str, str] | None = None
                  ) -> dict[GroupKey, list[tuple[str, Sequence[BoxResult]]]]:
    """Per (family, spectrum, kind): its nets' results, as (net, results) in the groups' order."""
    families: dict[GroupKey, list[tuple[str, Sequence[BoxResult]]]] = {}
    for (net, spectrum, kind), results in groups.items():
        families.setdefault(((family_of or {}).get(net, net), spectrum, kind), []).append((net, results))
    return families


def method_comparisons(families: Mapping[GroupKey, Sequence[tuple[str, Sequence[BoxResult]]]], methods: Sequence[str],
                       primary: Sequence[tuple[str, str]], inference: Inference,
                       metrics: Sequence[registry.Metric]) -> list[Comparison]:
    """Every pair of methods on each family, spectrum and kind of target, paired by box, on each of
    ``metrics``; primary where the pair is declared and the targets are detections."""
    declared = {frozenset(pair): pair for pair in primary}
    rows = []
    for key, members in families.items():
        for metric in (m.name for m in metrics):
            valued = [(box_values(results, metric), sorted({(r.sample_id, r.spectrum, r.box) for r in results}))
                      for _, results in members]
            for pair in itertools.combinations(methods, 2):
                a, b = declared.get(frozenset(pair), pair)
                family = "primary" if frozenset(pair) in declared and key[2] == "detection" else "exploratory"
                pairs = [paired(values[(*box, a)], values[(*box, b)], box[0]) for values, boxes in valued for box in boxes
                         if (*box, a) in values and (*box, b) in values]
                rows.append(compare("methods", family, group_name(key), metric, a, b, pairs, inference))
    return rows


def spectrum_comparisons(families: Mapping[GroupKey, Sequence[tuple[str, Sequence[BoxResult]]]], methods: Sequence[str],
                         inference: Inference, metrics: Sequence[registry.Metric]) -> list[Comparison]:
    """For each method, every pair of families x spectra that explained the same objects of the same
    scenes as the same kind of target (exploratory), on :func:`~spectral_xai.metrics.registry.spectrum_metrics`."""
    rows = []
    for method in methods:
        for first, second in itertools.combinations(families, 2):
            if first[2] != second[2]:
                continue
            same_nets = first[0] == second[0]
            nets = [[net for net, _ in families[key]] for key in (first, second)]
            for metric in registry.spectrum_metrics(metrics):
                cells = {(i, j): object_differences(method, metric, families[first][i][1], families[second][j][1])
                         for i, j in net_pairs(*map(len, nets), same_nets)}
                a, b = group_name(first), group_name(second)
                if min(map(len, nets)) < 2:  # no spread over seeds to be had on that side
                    row = compare("spectra", "exploratory", method, metric, a, b,
                                  [box for boxes in cells.values() for box in boxes], inference)
                    row.note = "; ".join(filter(None, [row.note, ONE_NET]))
                else:
                    row = seeded_comparison(method, metric, a, b, cells, same_nets, inference)
                rows.append(row)
    return rows


def net_pairs(seeds_a: int, seeds_b: int, same_nets: bool) -> list[tuple[int, int]]:
    """Which nets are compared: each with itself on two spectra, else every net of one side with every
    net of the other (nets of different families share nothing but their seed number)."""
    return [(i, i) for i in range(seeds_a)] if same_nets else list(itertools.product(range(seeds_a), range(seeds_b)))


def object_differences(method: str, metric: str, first: Sequence[BoxResult], second: Sequence[BoxResult]) -> list[PairedBox]:
    """The method's ``metric`` on the same objects of the two nets' results, first minus second."""
    mine = [[r for r in results if r.method == method and r.ok] for results in (first, second)]
    values = [box_values(results, metric) for results in (first, second)]
    return [paired(values[0][key_a], values[1][key_b], x.sample_id) for x, y in same_objects(*mine)
            for key_a, key_b in [((x.sample_id, x.spectrum, x.box, method), (y.sample_id, y.spectrum, y.box, method))]
            if key_a in values[0] and key_b in values[1]]


def seeded_comparison(method: str, metric: str, a: str, b: str, cells: Mapping[tuple[int, int], Sequence[PairedBox]],
                      same_nets: bool, inference: Inference) -> Comparison:
    """One spectrum contrast over training seeds: the hierarchical bootstrap of the pairs of nets'
    per-scene mean differences."""
    scenes = sorted({box.scene for boxes in cells.values() for box in boxes})
    index = {scene: k for k, scene in enumerate(scenes)}
    seeds_a, seeds_b = (max(k[side] for k in cells) + 1 for side in (0, 1))
    grid = np.full((seeds_a, seeds_b, len(scenes)), np.nan)
    for (i, j), boxes in cells.items():
        by_scene = sorted({box.scene for box in boxes})
        grid[i, j, [index[s] for s in by_scene]] = scene_means(sorted(boxes, key=lambda box: box.scene))
    boxes = [box for found in cells.values() for box in found]
    comparison = compare("spectra", "exploratory", method, metric, a, b, boxes, inference)
    seeds = f"{seeds_a} x {seeds_b} nets" if not same_nets else f"{seeds_a} nets, each on both spectra"
    comparison.note = "; ".join(filter(None, [f"{seeds}: bootstrap over training seeds, then scenes",
                                              FEW_NETS if min(seeds_a, seeds_b) < FEW_SEEDS else ""]))
    if len(scenes) < 2:
        return comparison
    found = hierarchical_bootstrap(grid, same_nets, inference.margin_for(metric), inference.resamples, inference.seed)
    comparison.mean_difference, comparison.low, comparison.high = found.mean, found.low, found.high
    comparison.p, comparison.p_equivalence, comparison.repeat_sd = found.p, found.p_equivalence, found.seed_sd
    comparison.scene_sd = float(np.std(np.nanmean(grid.reshape(-1, len(scenes)), axis=0), ddof=1))
    components = variance_components([box.difference for box in boxes], [box.scene for box in boxes])
    comparison.between_scenes, comparison.within_scenes = components.between, components.within
    comparison.note += f"; its standard error {found.se:.3f}, t on {found.df} df"
    return comparison


def comparisons(groups: Mapping[GroupKey, Sequence[BoxResult]], methods: Sequence[str],
                primary: Sequence[tuple[str, str]], inference: Inference, spectra: bool = True,
                family_of: Mapping[str, str] | None = None) -> list[Comparison]:
    """Every comparison of a run, each family adjusted together and decided: the primary family
    (Holm), the rest (Benjamini-Hochberg), on the primary metrics the results hold."""
    families = family_groups(groups, family_of)
    metrics = registry.held((r for results in groups.values() for r in results), registry.primary())
    rows = method_comparisons(families, methods, primary, inference, metrics)
    if spectra:
        rows += spectrum_comparisons(families, methods, inference, metrics)
    decide([c for c in rows if c.family == "primary"], holm, inference)
    decide([c for c in rows if c.family == "exploratory"], benjamini_hochberg, inference)
    return rows
