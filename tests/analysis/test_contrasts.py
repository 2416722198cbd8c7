"""Which comparisons a run makes, and spectra compared over nets trained with several seeds."""
import math

import numpy as np
import pytest
import torch

from spectral_xai.analysis.complementarity import same_objects
from spectral_xai.analysis.contrasts import FEW_NETS, ONE_NET, comparisons
from spectral_xai.results import annotated_object
from spectral_xai.analysis.seeds import seeded_estimate, welch_satterthwaite
from spectral_xai.analysis.statistics import ALPHA, Inference
from spectral_xai.reporting.comparisons import primary_sentences

from ..helpers.box_results import result

FAST = Inference(resamples=500, seed=0, margin=0.02)


def test_the_estimate_is_the_mean_over_pairs_of_nets_of_their_mean_over_shared_scenes():
    cells = np.array([[[0.1, 0.3, np.nan], [0.2, np.nan, np.nan]],
                      [[0.0, 0.0, 0.6], [0.4, 0.2, 0.0]]])
    found = seeded_estimate(cells, False, 0.02)
    assert found.mean == pytest.approx((0.2 + 0.2 + 0.2 + 0.2) / 4)
    low, high = found.interval_at(0.95)
    assert low < found.mean < high and found.seed_sd == pytest.approx(0.0, abs=1e-12)
    # paired (the same nets on two spectra): only each net with itself counts
    diagonal = seeded_estimate(cells, True, 0.02)
    assert diagonal.mean == pytest.approx((0.2 + 0.2) / 2)


def test_welch_satterthwaite_degrees_of_freedom_follow_the_larger_spread():
    """Equal parts: the df add up; one part dominating: the df are that part's."""
    assert welch_satterthwaite([(1.0, 2), (1.0, 2)]) == pytest.approx(4.0)
    assert welch_satterthwaite([(1.0, 2), (1e-6, 40)]) == pytest.approx(2.0, rel=1e-3)
    rng = np.random.default_rng(0)
    spread = np.concatenate([rng.normal(0, 0.08, (3, 1, 1)) - rng.normal(0, 0.01, (1, 3, 1))] * 1, axis=0)
    found = seeded_estimate(spread + rng.normal(0, 0.02, (3, 3, 30)), False, 0.02)
    assert found.df == pytest.approx(2.0)  # the noisy side's 2 df (it holds most of the variance), not 3 + 3 - 2 pooled


def family_results(spectrum: str, nets: int, shift: float, rng: np.random.Generator, scenes: int = 12,
                   net_sd: float = 0.02) -> dict:
    """Per net ``<spectrum>-seed<k>``: methods a and b on one object of each scene, a's deletion AUC
    ``shift`` above b's plus the net's own offset (sd ``net_sd``)."""
    groups = {}
    for k in range(nets):
        offset = float(rng.normal(0.0, net_sd))
        rows = []
        for s in range(scenes):
            base = float(rng.uniform(0.2, 0.4))
            rows += [result(f"{s:03d}", "a", base + shift + offset, spectrum=spectrum),
                     result(f"{s:03d}", "b", base, spectrum=spectrum)]
        groups[(f"{spectrum}-seed{k}", spectrum, "detection")] = rows
    return groups


def test_nets_of_one_family_pool_their_boxes_for_methods_and_are_replicates_for_spectra():
    rng = np.random.default_rng(0)
    groups = {**family_results("rgb", 3, 0.05, rng), **family_results("mir", 2, 0.05, rng)}
    family_of = {net: net.split("-")[0] for net, _, _ in groups}
    rows = comparisons(groups, ["a", "b"], [("a", "b")], FAST, family_of=family_of)
    methods = {(c.scope, c.metric): c for c in rows if c.table == "methods"}
    assert set(methods) == {(f"{f} on {f}", m) for f in ("rgb", "mir") for m in ("deletion_auc", "insertion_auc")}
    rgb = methods["rgb on rgb", "deletion_auc"]
    assert (rgb.boxes, rgb.scenes, rgb.family, rgb.verdict) == (36, 12, "primary", "worse")
    spectra = [c for c in rows if c.table == "spectra"]
    assert {(c.a, c.b) for c in spectra} == {("rgb on rgb", "mir on mir")} and len(spectra) == 4
    deletion = next(c for c in spectra if c.a == "rgb on rgb" and c.b == "mir on mir" and c.metric == "deletion_auc_normalised"
                    and c.scope == "a")
    assert "3 x 2 nets" in deletion.note and FEW_NETS in deletion.note and deletion.boxes == 6 * 12
    assert math.isfinite(deletion.p) and deletion.low <= deletion.mean_difference <= deletion.high


def test_an_undecided_comparison_over_nets_is_sized_by_the_difference_its_nets_can_find_not_by_scenes():
    """With the net a random effect, scenes alone cannot decide a comparison whose nets disagree: the
    report gives the smallest difference these nets and scenes find with 80 % power, which grows with
    the spread between nets, and no count of scenes."""
    found = {}
    for net_sd in (0.02, 0.1):
        groups = family_results("rgb", 3, 0.0, np.random.default_rng(1), net_sd=net_sd)
        rows = comparisons(groups, ["a", "b"], [("a", "b")], FAST, spectra=False,
                           family_of={net: "rgb" for net, _, _ in groups})
        deletion = next(c for c in rows if c.metric == "deletion_auc")
        assert (deletion.test, deletion.nets, deletion.verdict) == ("t", 3, "undecided")
        assert deletion.scenes_needed is None and deletion.scenes_to_decide is None and deletion.scenes_for_equivalence is None
        assert f"these 3 nets and 12 scenes find a difference of {deletion.difference_found:.3f}" in primary_sentences(rows)[-1]
        found[net_sd] = deletion.difference_found
    assert 0 < found[0.02] < found[0.1]


def test_without_families_each_net_is_its_own_and_the_contrast_says_it_speaks_for_these_nets():
    rng = np.random.default_rng(0)
    groups = {**family_results("rgb", 1, 0.0, rng), **family_results("mir", 1, 0.0, rng)}
    spectra = [c for c in comparisons(groups, ["a", "b"], [], FAST) if c.table == "spectra"]
    assert spectra and all(ONE_NET in c.note for c in spectra)
    assert {(c.a, c.b) for c in spectra} == {("rgb-seed0 on rgb", "mir-seed0 on mir")}


def test_spectra_are_paired_by_scene_and_object_on_auc_over_the_unperturbed_score():
    """Two nets on the same scenes: an object is paired where class and box agree (IoU >= 0.5), and a
    box elsewhere in the scene is not the same object. Spectrum comparisons are exploratory here, on
    each AUC over the box's unperturbed score: the RGB net, surer of its boxes (0.6 against 0.4),
    has the higher raw deletion AUC (0.3 against 0.2) and the same normalised one (0.5)."""
    rgb = [result(f"{i:03d}", "a", 0.3 + 0.01 * (i % 2), spectrum="rgb", full=0.6) for i in range(9)]
    mir = [result(f"{i:03d}", "a", 0.2, box=(1.0, 1.0, 11.0, 11.0), full=0.4) for i in range(8)]
    mir.append(result("008", "a", 0.2, box=(50.0, 50.0, 60.0, 60.0), full=0.4))
    rows = comparisons({("rgb", "rgb", "detection"): rgb, ("mir", "mir", "detection"): mir}, ["a"], [], FAST)
    assert {c.metric for c in rows if c.table == "spectra"} == {"deletion_auc_normalised", "insertion_auc_normalised"}
    deletion = next(c for c in rows if c.table == "spectra" and c.metric == "deletion_auc_normalised")
    assert deletion.family == "exploratory" and deletion.scenes == 8
    assert deletion.mean_difference == pytest.approx(0.01 / 0.6 * 4 / 8, abs=1e-6)  # odd scenes 0.31 / 0.6, even 0.3 / 0.6
    raw = {(r.sample_id, r.method): r.deletion.auc - m.deletion.auc for r, m in zip(rgb, mir)}
    assert min(raw.values()) == pytest.approx(0.1)  # what the raw AUCs would have said




def test_an_annotated_object_is_followed_across_nets_whatever_their_boxes():
    """Two nets' detections of annotated object 1 overlap each other at IoU 0.33 and are paired; one
    net's best-ranked explanation of an object is taken; object 0 seen by one net only is not
    paired; boxes without an object fall back to the same class at IoU >= 0.5."""
    first = [result("001", "a", 0.2, box=(0.0, 0.0, 20.0, 10.0), object=1, rank=1),
             result("001", "a", 0.2, box=(0.0, 0.0, 20.0, 10.0), object=1, rank=0),
             result("001", "a", 0.2, box=(50.0, 50.0, 60.0, 60.0), object=0, rank=2),
             result("002", "a", 0.2, box=(0.0, 0.0, 10.0, 10.0), rank=0)]
    second = [result("001", "a", 0.3, box=(10.0, 0.0, 30.0, 10.0), object=1),
              result("001", "a", 0.3, box=(50.0, 50.0, 60.0, 60.0)),  # where object 0 is, but not it
              result("002", "a", 0.3, box=(1.0, 0.0, 11.0, 10.0))]
    pairs = same_objects(first, second)
    assert [(one.sample_id, one.box, second.index(two)) for one, two in pairs] == [("001", 0, 0), ("002", 0, 2)]


def test_the_annotated_object_is_the_one_of_its_class_overlapped_most_at_half_or_more():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 12.0, 10.0], [40.0, 40.0, 50.0, 50.0]])
    labels = torch.tensor([1, 0, 0])
    of = [result("s", "a", 0.1, box=box).target for box in ((0.0, 0.0, 11.0, 10.0), (40.0, 40.0, 44.0, 50.0))]
    assert annotated_object(of[0], boxes, labels) == 1  # class 0 (the helper's): row 1, not the class-1 row 0
    assert annotated_object(of[1], boxes, labels) is None  # IoU 0.4 with row 2
    assert annotated_object(of[0], torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)) is None
