"""The randomisation test: which weights each stage re-initialises, the correlation, and a method
known not to depend on a stage (ODAM's box maps never read the class head)."""
import math

import pytest
import torch

from spectral_xai.checkpoint import load_checkpoint
from spectral_xai.detection import AnchorScore, DetectionScorer
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.explaining import Explainer
from spectral_xai.explainers import create
from spectral_xai.metrics import spearman
from spectral_xai.sanity import CASCADE, RANDOMISATIONS, STAGES, randomised_cascade, sanity_check
from spectral_xai.settings import SettingsError

from .helpers.margins import reach


@pytest.fixture(scope="module")
def trained(trained_checkpoint):
    module, datamodule = load_checkpoint(trained_checkpoint, num_workers=0)
    datamodule.setup("test")
    detector, explainer = module.use_channels_last().detector(), Explainer(ExplainSettings(["gradcam"]))
    dataset = datamodule.datasets["test"]
    # A briefly trained net does not find a box in every image: the first test image where it does.
    sample = next(dataset[i] for i in range(len(dataset)) if explainer.targets(detector, dataset[i]["image"])[0])
    return detector, sample


def changed(before: torch.nn.Module, after: torch.nn.Module) -> set[str]:
    """Top-level parts of the net (and the class head's predict conv) whose weights differ."""
    theirs = dict(after.net.named_parameters())
    parts = set()
    for name, value in before.net.named_parameters():
        if not torch.equal(value, theirs[name]):
            parts.add("class_net.predict" if name.startswith("class_net.predict") else name.split(".")[0])
    return parts


@pytest.mark.parametrize("randomisation", RANDOMISATIONS)
def test_the_cascade_randomises_from_the_top_and_is_seeded(trained, randomisation):
    detector, _ = trained
    original = {k: v.clone() for k, v in detector.state_dict().items()}
    cascade = randomised_cascade(detector, seed=3, randomisation=randomisation)
    assert [stage for stage, _ in cascade] == [stage for stage, _ in CASCADE]
    assert [changed(detector, random) for _, random in cascade] == [
        {"class_net.predict"}, {"class_net.predict", "class_net"}, {"class_net.predict", "class_net", "box_net", "fpn"},
        {"class_net.predict", "class_net", "box_net", "fpn", "backbone"}]
    assert all(torch.equal(v, detector.state_dict()[k]) for k, v in original.items())  # the trained net is untouched
    again = randomised_cascade(detector, seed=3, randomisation=randomisation)[-1][1].state_dict()
    assert all(torch.equal(v, again[k]) for k, v in cascade[-1][1].state_dict().items())
    if randomisation == "permute":  # every tensor keeps its trained values, and so its scale, shuffled
        trained_weights = dict(detector.net.named_parameters())
        for name, value in cascade[-1][1].net.named_parameters():
            assert torch.equal(value.flatten().sort().values, trained_weights[name].flatten().sort().values), name


def test_spearman_over_all_pixels_and_over_the_support():
    a = torch.zeros(10, 10)
    b = torch.zeros(10, 10)
    a[0, :5] = torch.arange(1.0, 6.0)
    b[0, :5] = torch.arange(5.0, 0.0, -1.0)  # the same support, the opposite order within it
    assert spearman(a, b) > 0.5 and spearman(a, b, support=True) == pytest.approx(-1.0)
    assert spearman(a, a * 2 + 1) == pytest.approx(1.0)
    assert math.isnan(spearman(a, torch.zeros(10, 10)))


@pytest.mark.slow
def test_a_map_that_ignores_a_stage_survives_it_and_one_that_reads_it_does_not(trained, record_property):
    detector, sample = trained
    explainer = Explainer(ExplainSettings(["gradcam", "odam_box"], step=0.5, baselines=False))
    explained = explainer.explain(detector, sample)
    results = sanity_check(explainer, detector, randomised_cascade(detector, randomisation="init"), explained)
    assert [(r.stage, r.method) for r in results] == [(stage, m) for stage, _ in CASCADE for m in ("gradcam", "odam_box")]
    trained_maps = {r.method: r.saliency for r in explained.results}
    by = {(r.stage, r.method): r for r in results}
    for stage in ("class predict conv", "class head"):  # the box maps read the BiFPN and the box head only
        assert by[stage, "odam_box"].spearman == pytest.approx(1.0)
        assert torch.allclose(by[stage, "odam_box"].saliency, trained_maps["odam_box"], atol=1e-5)
    # Grad-CAM's channel weights are the predict conv's gradient: a new predict conv, a new map.
    change = (by["class predict conv", "gradcam"].saliency - trained_maps["gradcam"]).abs().max()
    reach(record_property, "sanity: Grad-CAM's largest pixel change under a new predict conv", change, ">", 0.05)
    reach(record_property, "sanity: ODAM box map's Spearman (support) under a new box head + BiFPN",
          by["box head + BiFPN", "odam_box"].spearman_support, "<", 0.99)


@pytest.mark.slow
def test_perturbation_maps_are_scored_by_the_anchor_rule_and_never_blank_and_chance_survives(trained):
    """Under a randomised net the matched rule re-identifies nothing, so RISE would be blank by
    construction; scored by the anchor rule on both sides it is compared at every stage. The random
    baseline, which reads no weights at all, survives every stage: the test can fail a method."""
    detector, sample = trained
    explainer = Explainer(ExplainSettings(["rise", "random"], method_settings={"rise": {"n_masks": 48}}, step=0.5,
                                          baselines=False))
    explained = explainer.explain(detector, sample)
    results = sanity_check(explainer, detector, randomised_cascade(detector, randomisation="init"), explained)
    rise = [r for r in results if r.method == "rise"]
    assert {r.rule for r in rise} == {"anchor"} and {r.rule for r in results if r.method == "random"} == {"matched"}
    assert all(not math.isnan(r.spearman) and r.saliency.max() > 0 for r in rise)  # never blank
    assert all(r.spearman == pytest.approx(1.0) for r in results if r.method == "random")


@pytest.mark.slow
def test_rise_under_the_randomised_net_differs_from_the_trained_map_by_more_than_its_mask_noise(trained,
                                                                                             record_property):
    """RISE's maps with one set of masks share that set's coverage whatever the net, so a map's
    agreement with the trained map is judged against another mask set: the fully randomised net's
    map (masks of seed 1) must agree with the trained net's (seed 0) less than the trained net's own
    map from seed 1 does. A method that ignored the weights would agree as well as its own noise."""
    detector, sample = trained
    explainer = Explainer(ExplainSettings(["rise"]))
    target = explainer.targets(detector, sample["image"])[0][0]
    image, randomised = sample["image"], randomised_cascade(detector, randomisation="init")[-1][1]

    def rise(net, seed: int) -> torch.Tensor:
        return create("rise", n_masks=96, seed=seed)(DetectionScorer(net, AnchorScore(), 32), image, target)

    trained_map = rise(detector, 0)
    noise = spearman(trained_map, rise(detector, 1))
    reach(record_property, "sanity: RISE's own seed-to-seed Spearman minus the randomised net's",
          noise - spearman(trained_map, rise(randomised, 1)), ">", 0.0)


@pytest.mark.slow
def test_permuted_weights_keep_sidu_judged_where_reinitialised_ones_blank_it(trained):
    """SIDU scores feature-mask images by the target's class probability. Re-initialised, the class
    head's weights are far smaller than trained and its prior bias rules: every masked image scores
    alike and the map is blank from that stage on, so the test cannot judge SIDU. Permuted, the
    weights keep their scale and SIDU is compared at every stage (on the shared net, 2 scenes with
    every method: 12 blank rows under init, none for SIDU under permute; docs/methods.md)."""
    detector, sample = trained
    explainer = Explainer(ExplainSettings(["sidu"], step=0.5, baselines=False))
    explained = explainer.explain(detector, sample)
    kept = sanity_check(explainer, detector, randomised_cascade(detector), explained)
    reset = sanity_check(explainer, detector, randomised_cascade(detector, randomisation="init"), explained)
    assert [r.stage for r in kept] == list(STAGES) and all(not math.isnan(r.spearman) for r in kept)
    assert all(math.isnan(r.spearman) for r in reset if r.stage != STAGES[0])


def test_negative_controls_are_their_methods_maps_on_the_random_net_scored_on_the_trained_one(trained):
    detector, sample = trained
    settings = ExplainSettings(["gradcam", "rise"], method_settings={"rise": {"n_masks": 32}}, step=0.25,
                               negative_controls=["gradcam", "rise"])
    explainer = Explainer(settings)
    assert explainer.names == ["gradcam", "rise", "random", "box", "gradcam@random_net", "rise@random_net"]
    results = {r.method: r for r in explainer.explain(detector, sample).results if r.box == 0}
    random = randomised_cascade(detector)[-1][1]
    methods = explainer.methods_for(sample["sample_id"], sample["spectrum"])
    for name, scorer in (("gradcam", explainer.scorer(random)), ("rise", DetectionScorer(random, AnchorScore(), 32))):
        control, own = results[f"{name}@random_net"], results[name]
        assert control.ok and torch.equal(control.target.box, own.target.box)
        made = methods[name].explain_all(scorer, sample["image"], [control.target])[0]
        assert torch.allclose(control.saliency, made, atol=1e-5)  # made on the random net, as the sanity check's last stage
        assert not torch.allclose(control.saliency, own.saliency, atol=1e-3)
        # scored on the trained net: both curves start from the trained net's score of the box
        assert float(control.deletion.scores[0]) == pytest.approx(float(own.deletion.scores[0]), abs=1e-5)


def test_negative_controls_must_name_methods_the_run_explains():
    with pytest.raises(SettingsError, match="negative_controls: 'sidu'"):
        ExplainSettings(["gradcam"], negative_controls=["sidu"])
    with pytest.raises(SettingsError, match="negative_controls: 'random'"):
        ExplainSettings(["gradcam"], negative_controls=["random"])
