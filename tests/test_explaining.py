"""One sample through the shared path: one scoring rule for the methods and the metric, typed results."""
import copy

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from spectral_xai.detection import DetectionScorer, Detections, DRiseSimilarity, MatchedScore, Scoring
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explaining import Explainer
from spectral_xai.metrics import CHECKS
from spectral_xai.reporting.box_table import box_table
from spectral_xai.scenes import choose_indices, choose_scenes
from spectral_xai.settings import SettingsError
from spectral_xai.explainers import REGISTRY, register
from spectral_xai.explainers.base import SaliencyMethod

from .helpers.region_detector import expected_score, region_detector

RISE = {"rise": {"n_masks": 64, "grid": 4, "p": 0.5}}


@pytest.fixture(scope="module")
def sample():
    image = 0.6 + 0.4 * torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    return {"image": image, "sample_id": "000001", "spectrum": "mir"}


def deleted_images(image: torch.Tensor, saliency: torch.Tensor, step: float) -> torch.Tensor:
    """The deletion curve's images built by hand: the most salient share of pixels set to zero."""
    order = torch.argsort(saliency.flatten(), descending=True, stable=True)
    images = []
    for i in range(round(1 / step) + 1):
        flat = image.reshape(3, -1).clone()
        flat[:, order[: round(i * step * order.numel())]] = 0
        images.append(flat.reshape(image.shape))
    return torch.stack(images)


@pytest.mark.parametrize("rule, reference", [("drise", DRiseSimilarity()), ("matched", MatchedScore())])
def test_the_metric_scores_by_the_runs_rule(sample, rule, reference):
    detector = region_detector()
    explainer = Explainer(ExplainSettings(["rise"], RISE, Scoring(rule), step=0.25, batch_size=8, target_min_score=0.0, baselines=False))
    (result,) = explainer.explain(detector, sample).results
    assert result.ok and result.method == "rise" and result.sample_id == "000001"
    with torch.no_grad():
        expected = reference(detector(deleted_images(sample["image"], result.saliency, 0.25)), result.target).scores
    assert result.deletion.scores.tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    if rule == "drise":  # the unaltered image matches its own detection: IoU 1, cosine 1, its confidence
        assert result.deletion.scores[0] == pytest.approx(float(result.target.class_probs.max()), abs=1e-5)
        assert result.target.score < 0.99
    else:
        assert result.deletion.scores[0] == pytest.approx(result.target.score, abs=1e-6)


def test_perturbation_methods_score_by_the_same_rule_as_the_metric(sample):
    detector = region_detector()
    explainer = Explainer(ExplainSettings(["rise"], RISE, Scoring("drise"), step=0.5, batch_size=8, target_min_score=0.0, baselines=False))
    (result,) = explainer.explain(detector, sample).results
    rise = explainer.methods_for(sample["sample_id"], sample["spectrum"])["rise"]  # the image's own mask seed
    by_drise = rise(DetectionScorer(detector, DRiseSimilarity(), 8), sample["image"], result.target)
    by_matched = rise(DetectionScorer(detector, MatchedScore(), 8), sample["image"], result.target)
    assert torch.equal(result.saliency, by_drise) and not torch.equal(result.saliency, by_matched)


def test_a_failing_method_is_a_typed_failure_and_the_others_run(sample):
    @register("broken_eval_test", "raises")
    class Broken(SaliencyMethod):
        def saliency(self, scorer, image, target):
            raise RuntimeError("broken on purpose")

    try:
        results = Explainer(ExplainSettings(["broken_eval_test", "gradcam"], step=0.5, target_min_score=0.0, baselines=False)).explain(
            region_detector(), sample).results
    finally:
        REGISTRY.pop("broken_eval_test")
    assert [r.method for r in results] == ["broken_eval_test", "gradcam"]
    assert not results[0].ok and "broken on purpose" in results[0].error and results[0].saliency is None
    assert results[1].ok and 0 <= results[1].insertion.auc <= 1


def test_a_sample_below_the_target_threshold_is_not_explained(sample):
    explained = Explainer(ExplainSettings(["gradcam"], target_min_score=0.999)).explain(region_detector(), sample)
    assert explained.targets == [] and explained.results == []


def test_a_top_box_clipped_to_no_area_is_passed_over_for_the_next(sample):
    """effdet clips boxes to the image, which can leave a confident box of no area at a corner (seen
    on a demo net: score 0.999, box 128,0,128,0); nothing can match it, so the next box is explained."""
    region = region_detector()

    class WithACollapsedTopBox(type(region)):
        def decode(self, raw, min_score=0.0):
            found = super().decode(raw, min_score)
            collapsed = torch.tensor([[[128.0, 0.0, 128.0, 0.0]]]).expand(len(found.boxes), 1, 4)
            return Detections(torch.cat([collapsed, found.boxes], 1), torch.cat([found.scores[:, :1] * 0 + 0.999, found.scores], 1),
                              torch.cat([found.labels[:, :1], found.labels], 1),
                              torch.cat([found.class_probs[:, :1], found.class_probs], 1),
                              torch.cat([found.anchors[:, :1], found.anchors], 1))

    with_a_collapsed_top_box = copy.copy(region)
    with_a_collapsed_top_box.__class__ = WithACollapsedTopBox
    (target,), _ = Explainer(ExplainSettings(["gradcam"])).targets(with_a_collapsed_top_box, sample["image"])
    with torch.no_grad():
        expected = region(sample["image"][None])
    assert torch.equal(target.box, expected.boxes[0, 0]) and target.score == pytest.approx(float(expected.scores[0, 0]))


@pytest.mark.parametrize("boxes, count", [("top", 1), ("all", 5), (3, 3)])
def test_boxes_setting_explains_the_top_every_or_the_n_best_detections(sample, boxes, count):
    """The region detector's one real detection scores ~0.9 and every other anchor 4.5e-5: above a
    threshold of 1e-5 an image holds many, and ``boxes`` decides how many are explained, best first."""
    detector = region_detector()
    detector.max_det_per_image = 5
    explainer = Explainer(ExplainSettings(["gradcam", "rise"], RISE, Scoring(min_score=0.0), step=0.5, target_min_score=1e-5, boxes=boxes,
                                          baselines=False))
    explained = explainer.explain(detector, sample)
    assert len(explained.targets) == count and [t.score for t in explained.targets] == sorted(
        (t.score for t in explained.targets), reverse=True)
    assert explained.targets[0].score > 0.5
    assert [(r.method, r.box) for r in explained.results] == [(m, b) for m in ("gradcam", "rise") for b in range(count)]
    for target, results in explained.per_box():
        assert all(r.target is target and r.ok for r in results)
    if count > 1:  # each box its own map, the metric scoring its own box
        assert not torch.equal(explained.results[0].saliency, explained.results[1].saliency)
        assert explained.results[1].deletion.scores[0] == pytest.approx(explained.targets[1].score, abs=1e-6)


@pytest.mark.parametrize("settings, message", [
    ({"boxes": 0}, "boxes 0: choose 'top', 'all' or a number"),
    ({"boxes": "some"}, "boxes 'some': choose 'top', 'all' or a number"),
    ({"boxes": True}, "boxes True: choose 'top', 'all' or a number"),
    ({"precision": "bf16"}, "precision 'bf16' (choose from 32, 32-true, bf16-mixed, 16-mixed)"),
    ({"method_settings": {"rsie": {"n_masks": 5}}}, "unknown saliency method 'rsie'; did you mean 'rise'?"),
    ({"scoring": {"rule": "best"}}, "scoring: rule 'best' (choose from matched, drise, anchor)"),
    ({"scoring": {"min_scor": 0.1}}, "scoring: unknown setting 'min_scor'; did you mean 'min_score'?"),
    ({"step": 0.0}, "step 0.0 must be in (0, 1]"),
    ({"batch_size": 0}, "batch_size 0 must be >= 1"),
    ({"target_min_score": 1.5}, "target_min_score 1.5 must be in [0, 1]"),
    ({"methods": []}, "name at least one saliency method"),
    ({"fill": {"delition": "blur"}}, "unknown fill 'delition'; did you mean 'deletion'?"),
    ({"fill": {"deletion": "noise"}}, "fill deletion: 'noise': choose one of zeros, blur"),
    ({"fill": "blur"}, "fill 'blur': give a mapping"),
])
def test_misspelt_settings_and_rules_fail_at_configuration(settings, message):
    with pytest.raises(SettingsError) as raised:
        ExplainSettings(**{"methods": ["rise"], **settings})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_settings_take_lists_as_people_type_them():
    for typed in ("gradcam,rise", "gradcam rise", "[gradcam, rise]", ["gradcam", "rise"], ["gradcam,rise"]):
        assert ExplainSettings(typed).methods == ["gradcam", "rise", "random", "box"]  # the baselines beside them
        assert ExplainSettings(typed, baselines=False).methods == ["gradcam", "rise"]
    assert ExplainSettings("all").methods == sorted(REGISTRY)
    assert ExplainSettings(boxes="5").boxes == 5
    assert ExplainSettings(scoring={"rule": "drise"}).scoring == Scoring("drise")


def test_images_are_chosen_seeded_and_sorted():
    assert choose_indices(50, 3, seed=1) == choose_indices(50, 3, seed=1) == sorted(choose_indices(50, 3, seed=1))
    assert choose_indices(50, 3, seed=1) != choose_indices(50, 3, seed=2)
    assert choose_indices(2, 5, seed=0) == [0, 1]


def test_scenes_are_chosen_once_for_every_net_from_the_ids_they_share():
    rgb, nir = [f"{i:03d}" for i in range(20)], [f"{i:03d}" for i in range(5, 30)]
    chosen = choose_scenes([rgb, nir], 4, seed=0)
    assert chosen == choose_scenes([nir, rgb], 4, seed=0) and len(chosen) == 4
    assert set(chosen) <= set(rgb) & set(nir)
    assert choose_scenes([rgb, nir], 4, seed=0) != choose_scenes([rgb, nir], 4, seed=1)
    # Too few shared ids: the rest come from ids some nets hold.
    few = choose_scenes([["a", "b"], ["b", "c"]], 2, seed=0)
    assert "b" in few and len(few) == 2


def _annotated(grey_region: float, boxes: list, labels: list) -> dict:
    """The region detector's image with tile REGION at ``grey_region`` (its detection scores
    sigmoid(8 * grey - 4)) and the given annotations."""
    image = torch.full((3, 64, 64), 0.5)
    image[:, 16:32, 16:32] = grey_region
    return {"image": image, "sample_id": "000002", "spectrum": "mir",
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.long)}


def test_an_object_the_detector_misses_is_explained_at_its_best_anchor():
    # Tile REGION at 0.6: the detection at cell (6, 6) scores sigmoid(0.8) = 0.69 < 0.8, a miss;
    # the class-0 object at the corner is seen only by its anchor's constant logit of -10.
    sample = _annotated(0.6, [[0, 0, 8, 8], [48, 48, 56, 56]], [0, 1])
    explainer = Explainer(ExplainSettings(["gradcam", "rise"], {"rise": {"n_masks": 256, "grid": 4, "p": 0.5}}, step=0.25,
                                          targets="missed", boxes="all", baselines=False, target_min_score=0.8))
    explained = explainer.explain(region_detector(), sample)
    assert [o.found for o in explained.objects] == [False, False]
    assert explained.objects[1].score == pytest.approx(torch.sigmoid(torch.tensor(8 * 0.6 - 4)).item(), abs=1e-5)
    nearest, corner = explained.targets  # nearest miss first
    assert (nearest.kind, nearest.label, nearest.box.tolist()) == ("missed", 1, [48, 48, 56, 56])
    assert nearest.anchor == 6 * 8 + 6 and corner.anchor == 0  # the cells whose boxes are the objects' (by hand)
    assert nearest.score == pytest.approx(0.6900, abs=1e-4) and corner.score == pytest.approx(torch.sigmoid(torch.tensor(-10.0)).item())
    by = {(r.box, r.method): r for r in explained.results}
    for method in ("gradcam", "rise"):  # the class logit of anchor (6, 6) reads tile REGION only
        saliency = by[0, method].saliency
        top = torch.argsort(saliency.flatten(), descending=True)[:256]  # as many as the tile has pixels
        assert saliency.max() > 0 and (top // 64 // 16 == 1).logical_and(top % 64 // 16 == 1).float().mean() > 0.5, method
    # The metric scores the object by its best detection, with no floor: the unaltered image gives 0.69.
    assert by[0, "rise"].deletion.scores[0] == pytest.approx(nearest.score, abs=1e-5)
    # ... down to the black image's 0.018, below the paper's floor of 0.05, where a matched rule would give 0.
    assert by[0, "rise"].deletion.scores[-1] == pytest.approx(torch.sigmoid(torch.tensor(-4.0)).item(), abs=1e-5)
    assert by[0, "rise"].localisation.against == "annotation"
    assert {(r.box, r.object) for r in explained.results} == {(0, 1), (1, 0)}  # each miss is its own annotated object


def test_a_detection_with_no_object_of_its_class_is_a_false_positive():
    bright = 0.9  # the detection at cell (6, 6) scores 0.96
    settings = ExplainSettings(["gradcam"], targets="detections,false_positives", baselines=False, step=0.5)
    on_nothing = Explainer(settings).explain(region_detector(), _annotated(bright, [[0, 0, 16, 16]], [0]))
    assert [t.kind for t in on_nothing.targets] == ["detection", "false_positive"]
    assert on_nothing.results[1].localisation.against == "background"
    other_class = Explainer(settings).explain(region_detector(), _annotated(bright, [[46, 46, 58, 58]], [0]))
    assert other_class.results[1].localisation.against == "other_class"
    right = Explainer(settings).explain(region_detector(), _annotated(bright, [[48, 48, 56, 56]], [1]))
    assert [t.kind for t in right.targets] == ["detection"] and right.objects[0].found
    assert [r.object for r in right.results] == [0] and [r.object for r in on_nothing.results] == [None, None]


def test_missed_objects_are_scored_without_the_floor_or_by_anchor():
    from spectral_xai.detection import AnchorScore, ObjectScore

    assert isinstance(Scoring().build("missed"), ObjectScore) and isinstance(Scoring("drise").build("missed"), ObjectScore)
    assert isinstance(Scoring("anchor").build("missed"), AnchorScore)


@pytest.mark.parametrize("targets", ["mised", "", "detections,everything"])
def test_an_unknown_target_kind_is_refused_by_name(targets):
    with pytest.raises(SettingsError, match="target"):
        ExplainSettings(["gradcam"], targets=targets)


def test_boxes_all_over_a_floor_too_low_is_warned_of_once(sample, caplog):
    """The region detector scores every anchor a little: at a floor of 0, ``boxes: all`` means 100
    detections an image, each costing every method's curves; one warning a run says so."""
    explainer = Explainer(ExplainSettings(["gradcam"], boxes="all", target_min_score=0.0, baselines=False))
    with caplog.at_level("WARNING", logger="spectral_xai.explaining"):
        for _ in range(2):
            targets, _ = explainer.targets(region_detector(), sample["image"])
    warned = [r for r in caplog.records if "boxes: all explains" in r.getMessage()]
    assert len(targets) == 100 and len(warned) == 1 and "100 detections scoring >= 0" in warned[0].getMessage()
    caplog.clear()
    Explainer(ExplainSettings(["gradcam"], boxes="all", baselines=False)).targets(region_detector(), sample["image"])
    assert not [r for r in caplog.records if "boxes: all explains" in r.getMessage()]


@pytest.mark.parametrize("rule", ["matched", "drise"])
def test_every_kind_of_target_shares_one_pass_and_scores_as_alone(rule):
    """A found detection and a missed object of one image are explained on the same perturbed
    images, each by its own kind's rule (under ``drise`` the detection's RISE map divided by mask
    coverage, the miss's by N * p): maps and AUCs equal those of each kind explained alone, for the
    forward passes of one kind."""
    sample = _annotated(0.9, [[48, 48, 56, 56], [0, 0, 8, 8]], [1, 0])  # the detection's object, a missed corner
    settings = dict(methods=["rise", "sidu"], method_settings={"rise": {"n_masks": 64, "grid": 4, "p": 0.5}}, step=0.25,
                    boxes="all", baselines=False, target_min_score=0.5, scoring={"rule": rule})
    detector = region_detector()
    seen = []
    detector.net.register_forward_pre_hook(lambda _module, args: seen.append(len(args[0])))
    joint = Explainer(ExplainSettings(targets="detections,missed", **settings)).explain(detector, sample)
    joint_passes = sum(seen)
    assert [t.kind for t in joint.targets] == ["detection", "missed"]
    seen.clear()
    alone = [Explainer(ExplainSettings(targets=kind, **settings)).explain(detector, sample) for kind in ("detections", "missed")]
    assert joint_passes < sum(seen)
    by = {(r.box, r.method): r for r in joint.results}
    for box, single in enumerate(alone):
        for result in single.results:
            mine = by[box, result.method]
            assert torch.allclose(mine.saliency, result.saliency, atol=1e-5), (rule, box, result.method)
            assert (mine.insertion.auc, mine.deletion.auc) == pytest.approx((result.insertion.auc, result.deletion.auc), abs=1e-6)
            assert mine.spectrum_scores == result.spectrum_scores


def test_the_fill_setting_reaches_the_metric_and_checked_maps_carry_their_other_aucs(sample):
    """Deletion onto the blurred image ends at the blurred image's score (by hand), and
    ``metric_checks`` gives every map the AUCs of metrics.CHECKS, written to boxes.csv."""
    settings = ExplainSettings(["gradcam"], baselines=False, step=0.25, fill={"deletion": "blur"}, metric_checks=True)
    assert settings.fill == {"deletion": "blur", "insertion": "blur"}
    explained = Explainer(settings).explain(region_detector(), sample)
    (result,) = explained.results
    blurred = gaussian_blur(sample["image"][None], kernel_size=[11, 11], sigma=[5.0, 5.0])[0]
    assert result.deletion.scores[-1] == pytest.approx(expected_score(blurred), abs=1e-5)
    assert list(result.checks) == list(CHECKS[:4]) and all(0 <= v <= 1 for v in result.checks.values())
    columns, rows = box_table([("net", ["person", "car"], result)])
    row = dict(zip(columns, rows[0]))
    assert row["deletion_auc_least_relevant_first"] == result.checks["deletion_auc_least_relevant_first"]  # to the last digit
    assert row["deletion_auc_road"] is None  # ROAD's checks are their own switch: an empty cell


def test_roads_fill_as_the_runs_fill_and_as_a_check(sample):
    """``fill: {deletion: road}`` scores deletion under ROAD's imputation: nothing is left to continue
    at the last step, so it ends at the zeros fill's score; ``road_checks`` adds ROAD's AUCs of both
    curves, the deletion one equal to the run's own."""
    settings = ExplainSettings(["gradcam"], baselines=False, step=0.25, fill={"deletion": "road"}, road_checks=True)
    (result,) = Explainer(settings).explain(region_detector(), sample).results
    assert result.deletion.scores[-1] == pytest.approx(expected_score(torch.zeros_like(sample["image"])), abs=1e-5)
    assert result.checks["deletion_auc_road"] == pytest.approx(result.deletion.auc, abs=1e-6)
    assert set(result.checks) == {"deletion_auc_road", "insertion_auc_road"}
    assert result.checks["insertion_auc_road"] != result.insertion.auc
