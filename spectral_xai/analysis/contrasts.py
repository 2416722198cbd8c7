"""Every comparison a run makes: each pair of methods on the boxes of each net (or family of nets),
each pair of nets x spectra on the same objects, each family of comparisons decided together.

Nets that differ only by their training seed form a *family* (``family_of``: net -> family name;
explain.py finds them, reproduce.py trains them). A family is one arm of a comparison:

- methods are compared on the boxes of its nets. With fewer than 3 nets a unit's boxes of every net
  are averaged into the unit's one value and the verdict speaks for these nets; with 3 or more the
  net is a random effect (:func:`~spectral_xai.analysis.seeds.seeded_estimate`, each net paired with
  itself), so the verdict speaks for nets trained alike;
- spectra are compared between families with the training seed as a replicate: each pair of nets
  (one per side; the same net twice when one family is explained on two spectra) gives its per-unit
  mean difference on the objects both explained, and the seed and scene components give the
  standard error of a t interval on Welch-Satterthwaite degrees of freedom. Below 3 seeds a side
  the comparison says that it speaks for these nets, not for the spectrum; with one net on a side it
  is the unit-level comparison of :func:`~spectral_xai.analysis.statistics.compare` of these nets,
  and says so.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .complementarity import same_objects
from .resampling import benjamini_hochberg, holm, variance_components
from .seeds import seeded_estimate
from ..metrics import registry
from .pairing import PairedBox, blank_values, box_values, paired, scene_means
from .statistics import BLANK_RATE, Comparison, Inference, compare, decide, group_name

if TYPE_CHECKING:
    from ..results import BoxResult, GroupKey

#: Fewer training seeds a side than this make a contrast one of the nets, not of their training.
FEW_SEEDS = 3
ONE_NET = "one net on a side: it speaks for these nets, not for their spectra in general"
FEW_NETS = (f"fewer than {FEW_SEEDS} training seeds a side: the spread over seeds is barely estimated; read it as "
            "speaking for these nets, not for their spectra in general")
THESE_NETS = "speaks for {} (fewer than 3 training seeds: not for nets trained alike in general)"
#: The families decided together, each with its correction.
FAMILIES = {"primary": holm, "blanks": holm, "sensitivity": holm, "exploratory": benjamini_hochberg}


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
    ``metrics`` over the boxes where both maps exist; primary where the pair is declared and the
    targets are detections. For each primary pair where either method left a map blank, also their
    blank rates (family ``blanks``) and each metric with blank maps at the random map's AUC
    (``sensitivity``)."""
    declared = {frozenset(pair): pair for pair in primary}
    rows = []
    for key, members in families.items():
        unit = inference.units({r.sample_id for _, results in members for r in results})
        boxes = [sorted({(r.sample_id, r.spectrum, r.box) for r in results}) for _, results in members]
        blanks = [blank_values(results) for _, results in members]
        for pair in itertools.combinations(methods, 2):
            a, b = declared.get(frozenset(pair), pair)
            is_primary = frozenset(pair) in declared and key[2] == "detection"
            blanked = any(v[(*box, m)][0] for v, found in zip(blanks, boxes) for box in found for m in (a, b)
                          if (*box, m) in v)
            readings = [("primary" if is_primary else "exploratory", False)] + ([("sensitivity", True)]
                                                                                  if is_primary and blanked else [])
            for metric, (family, as_random) in itertools.product((m.name for m in metrics), readings):
                valued = [box_values(results, metric, as_random) for _, results in members]
                rows.append(_methods_row(family, key, metric, a, b, valued, boxes, unit, inference))
            if is_primary and blanked:
                rows.append(_methods_row("blanks", key, BLANK_RATE, a, b, blanks, boxes, unit, inference))
    return rows


def _methods_row(family: str, key: GroupKey, metric: str, a: str, b: str, valued: Sequence[Mapping[tuple, np.ndarray]],
                 boxes: Sequence[Sequence[tuple]], unit: Mapping[str, str], inference: Inference) -> Comparison:
    """a against b on one family of nets: pooled over its nets, or with the net as a random effect."""
    per_net = [[paired(values[(*box, a)], values[(*box, b)], unit[box[0]]) for box in found
                if (*box, a) in values and (*box, b) in values] for values, found in zip(valued, boxes)]
    if len(per_net) >= FEW_SEEDS:
        return seeded_comparison(family, "methods", group_name(key), metric, a, b,
                                 {(i, i): found for i, found in enumerate(per_net)}, True, inference)
    row = compare("methods", family, group_name(key), metric, a, b, [box for found in per_net for box in found],
                  inference)
    row.note = "; ".join(filter(None, [row.note, THESE_NETS.format("this net" if len(per_net) == 1
                                                                   else f"these {len(per_net)} nets")]))
    return row


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
            unit = inference.units({r.sample_id for key in (first, second) for _, results in families[key]
                                    for r in results})
            nets = [[net for net, _ in families[key]] for key in (first, second)]
            for metric in registry.spectrum_metrics(metrics):
                cells = {(i, j): object_differences(method, metric, families[first][i][1], families[second][j][1], unit)
                         for i, j in net_pairs(*map(len, nets), same_nets)}
                a, b = group_name(first), group_name(second)
                if min(map(len, nets)) < 2:  # no spread over seeds to be had on that side
                    row = compare("spectra", "exploratory", method, metric, a, b,
                                  [box for boxes in cells.values() for box in boxes], inference)
                    row.note = "; ".join(filter(None, [row.note, ONE_NET]))
                else:
                    row = seeded_comparison("exploratory", "spectra", method, metric, a, b, cells, same_nets, inference)
                rows.append(row)
    return rows


def net_pairs(seeds_a: int, seeds_b: int, same_nets: bool) -> list[tuple[int, int]]:
    """Which nets are compared: each with itself on two spectra, else every net of one side with every
    net of the other (nets of different families share nothing but their seed number)."""
    return [(i, i) for i in range(seeds_a)] if same_nets else list(itertools.product(range(seeds_a), range(seeds_b)))


def object_differences(method: str, metric: str, first: Sequence[BoxResult], second: Sequence[BoxResult],
                       unit: Mapping[str, str]) -> list[PairedBox]:
    """The method's ``metric`` on the same objects of the two nets' results, first minus second, each
    in its ``unit``."""
    mine = [[r for r in results if r.method == method and r.ok] for results in (first, second)]
    values = [box_values(results, metric) for results in (first, second)]
    return [paired(values[0][key_a], values[1][key_b], unit[x.sample_id]) for x, y in same_objects(*mine)
            for key_a, key_b in [((x.sample_id, x.spectrum, x.box, method), (y.sample_id, y.spectrum, y.box, method))]
            if key_a in values[0] and key_b in values[1]]


def seeded_comparison(family: str, table: str, scope: str, metric: str, a: str, b: str,
                      cells: Mapping[tuple[int, int], Sequence[PairedBox]], same_nets: bool, inference: Inference
                      ) -> Comparison:
    """One contrast over training seeds: the pairs of nets' per-unit mean differences, with the seed
    as a random effect (:func:`~spectral_xai.analysis.seeds.seeded_estimate`)."""
    scenes = sorted({box.scene for boxes in cells.values() for box in boxes})
    index = {scene: k for k, scene in enumerate(scenes)}
    seeds_a, seeds_b = (max(k[side] for k in cells) + 1 for side in (0, 1))
    grid = np.full((seeds_a, seeds_b, len(scenes)), np.nan)
    for (i, j), boxes in cells.items():
        by_scene = sorted({box.scene for box in boxes})
        grid[i, j, [index[s] for s in by_scene]] = scene_means(sorted(boxes, key=lambda box: box.scene))
    boxes = [box for found in cells.values() for box in found]
    comparison = compare(table, family, scope, metric, a, b, boxes, inference)
    seeds = f"{seeds_a} x {seeds_b} nets" if not same_nets else f"{seeds_a} nets, each on both sides"
    comparison.note = "; ".join(filter(None, [f"{seeds}: training seed and {inference.unit} as random effects",
                                              FEW_NETS if min(seeds_a, seeds_b) < FEW_SEEDS else ""]))
    if len(scenes) < 2:
        return comparison
    found = seeded_estimate(grid, same_nets, inference.margin_for(metric))
    comparison.mean_difference, comparison.p, comparison.p_equivalence = found.mean, found.p, found.p_equivalence
    comparison.interval_at, comparison.repeat_sd, comparison.test = found.interval_at, found.seed_sd, "t"
    comparison.nets = seeds_a if same_nets else min(seeds_a, seeds_b)
    comparison.low_unadjusted, comparison.high_unadjusted = comparison.low, comparison.high = found.interval_at(0.95)
    comparison.scene_sd = float(np.std(np.nanmean(grid.reshape(-1, len(scenes)), axis=0), ddof=1))
    components = variance_components([box.difference for box in boxes], [box.scene for box in boxes])
    comparison.between_scenes, comparison.within_scenes = components.between, components.within
    comparison.note += f"; its standard error {found.se:.3f}, t on {found.df:.1f} df (Welch-Satterthwaite)"
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
    for family, correction in FAMILIES.items():
        decide([c for c in rows if c.family == family], correction, inference)
    return rows
