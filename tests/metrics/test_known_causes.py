"""Maps against the known causes, on a detector whose one cause is known by construction: the region
detector's score depends on one 16-pixel tile alone, so rendering that tile away is the only
change that moves it. A map equal to that tile ranks the causes as the detector weighs them; the
box baseline, which knows only where the box is, does not."""
import math
from dataclasses import replace

import pytest
import torch

from spectral_xai.data_modules.known_causes import SceneCauses
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explaining import Explainer
from spectral_xai.metrics import KnownCauses, ScoredMap
from spectral_xai.metrics.known_causes import part_ranking, target_sensitivity, top_part
from spectral_xai.reporting.figures import known_cause_figure
from spectral_xai.reporting.spec import ImageSpec

from ..helpers.region_detector import LABEL, REGION_SLICE, SIZE, region_detector, region_scorer
from ..helpers.tile_causes import IMAGE, TileCauses

def explained(methods=("gradcam",)) -> dict:
    settings = ExplainSettings(list(methods), known_causes=True, step=0.5, batch_size=8, target_min_score=0.0)
    sample = {"image": IMAGE, "sample_id": "000001", "spectrum": "mir", "causes": TileCauses(),
              "boxes": torch.tensor([[48.0, 48.0, 56.0, 56.0]]), "labels": torch.tensor([LABEL])}
    return {r.method: r for r in Explainer(settings).explain(region_detector(), sample).results}


def test_the_true_effects_are_the_score_changes_of_the_renders_and_only_the_driving_tile_moves_it():
    results = explained()
    effects = results["gradcam"].cause_effects
    full = float(region_scorer()(IMAGE[None], results["gradcam"].target)[0])
    assert effects["region"] == pytest.approx(full, abs=1e-4)  # greyed, the region scores nothing: all of it
    assert effects["under the box"] == effects["beside"] == 0.0
    assert results["gradcam"].measurable_cause is True


def test_a_map_on_the_true_cause_ranks_the_causes_as_the_detector_does_and_the_box_baseline_does_not():
    results = explained(("box",))
    truth = KnownCauses(["region", "under the box", "beside", "context"], ["part", "part", "object", "context"],
                        SceneCauses.masks(TileCauses().causes(0), (SIZE, SIZE)),
                        torch.tensor([results["box"].cause_effects[n] for n in ("region", "under the box", "beside", "context")]),
                        torch.zeros(4))
    on_cause = torch.zeros(SIZE, SIZE)
    on_cause[REGION_SLICE] = 1.0
    scored = ScoredMap(region_scorer(), IMAGE, on_cause, results["box"].target, torch.zeros(0, 4), torch.zeros(0), 0.5,
                       {}, truth)
    assert part_ranking(scored) == pytest.approx(1.0) and top_part(scored) == 1.0 and target_sensitivity(scored) == 0.0
    box = results["box"]
    assert box.scores["part_ranking"] < 0.9 and box.scores["top_part"] == 0.0  # its mass sits under the box


def test_without_a_measurable_cause_or_without_a_scene_nothing_is_scored():
    causes = TileCauses().causes(0)
    flat = KnownCauses([c.name for c in causes], [c.kind for c in causes], SceneCauses.masks(causes, (SIZE, SIZE)),
                       torch.tensor([0.01, 0.0, 0.0, 0.0]), torch.tensor([0.02, 0.0, 0.0, 0.0]))
    scored = ScoredMap(region_scorer(), IMAGE, torch.rand(SIZE, SIZE), None, torch.zeros(0, 4), torch.zeros(0), 0.5, {}, flat)
    assert not flat.measurable and math.isnan(part_ranking(scored)) and math.isnan(top_part(scored))
    settings = ExplainSettings(["gradcam"], known_causes=True, step=0.5, batch_size=8, target_min_score=0.0)
    plain = Explainer(settings).explain(region_detector(), {"image": IMAGE, "sample_id": "1", "spectrum": "mir"})
    assert all(math.isnan(r.scores["part_ranking"]) and r.measurable_cause is None for r in plain.results)


def test_cue_enrichment_is_one_for_a_map_spread_over_the_box_and_more_for_one_on_the_cue():
    from spectral_xai.metrics.known_causes import cue_enrichment

    target = replace(explained(("box",))["box"].target, box=torch.tensor([48.0, 48.0, 56.0, 56.0]))
    cue = torch.zeros(1, SIZE, SIZE)
    cue[0, 48:52, 48:56] = 1.0  # the box's upper half
    truth = KnownCauses(["cue"], ["cue"], cue, torch.tensor([0.5]), torch.zeros(1))
    spread, on_cue = torch.zeros(SIZE, SIZE), cue[0].clone()
    spread[48:56, 48:56] = 1.0
    for saliency, expected in ((spread, 1.0), (on_cue, 2.0)):
        scored = ScoredMap(region_scorer(), IMAGE, saliency, target, torch.zeros(0, 4), torch.zeros(0), 0.5, {}, truth)
        assert cue_enrichment(scored) == pytest.approx(expected)


def test_each_box_keeps_where_its_parts_show_and_its_figure_outlines_them():
    settings = ExplainSettings(["gradcam", "box"], known_causes=True, step=0.5, batch_size=8, target_min_score=0.0)
    sample = {"image": IMAGE, "sample_id": "000001", "spectrum": "mir", "causes": TileCauses(),
              "boxes": torch.tensor([[48.0, 48.0, 56.0, 56.0]]), "labels": torch.tensor([LABEL])}
    explanation = Explainer(settings).explain(region_detector(), sample)
    regions = explanation.results[0].cause_regions
    assert regions is explanation.results[1].cause_regions  # one per box, whatever the method
    assert regions.names == ["region", "under the box", "beside"]  # parts and other objects, not the context
    assert (regions.labels[REGION_SLICE] == 0).all() and int((regions.labels == 0).sum()) == 16 * 16
    on_cause = torch.zeros(SIZE, SIZE)
    on_cause[REGION_SLICE] = 1.0
    assert regions.mass(on_cause).tolist() == [1.0, 0.0, 0.0]
    pixels = known_cause_figure(explanation, 0, ImageSpec(["person", "car"]))
    assert pixels.ndim == 3 and pixels.shape[1] > pixels.shape[0]  # two methods side by side, each beside its bars
    with pytest.raises(ValueError, match="no map with known causes"):
        plain = ExplainSettings(["gradcam", "box"], step=0.5, batch_size=8, target_min_score=0.0)
        known_cause_figure(Explainer(plain).explain(region_detector(), sample), 0, ImageSpec(["person", "car"]))
