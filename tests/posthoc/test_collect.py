"""The report's content is gathered by a pure function: typed results in, tables and figure plans
out, no folder and no net needed."""
from dataclasses import dataclass

import torch

from spectral_xai.analysis.complementarity import Condition
from spectral_xai.detection import Target
from spectral_xai.explaining import Explainer
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.results import BoxResult, ObjectOutcome, SampleExplanation, SanityResult
from spectral_xai.metrics import CurveResult, Localisation
from spectral_xai.posthoc.collect import collect
from spectral_xai.posthoc.run import ExplainedScene
from spectral_xai.reporting.spec import ImageSpec

from ..helpers.box_results import scored


@dataclass
class Net:
    name: str
    spec: ImageSpec
    family: str = ""

    def __post_init__(self) -> None:
        self.family = self.family or self.name


OBJECT = (10.0, 10.0, 30.0, 30.0)


def _explanation(scene: str, found: bool) -> SampleExplanation:
    """A scene with one annotated car; a net that found it explains its detection of it."""
    objects = [ObjectOutcome(0, 1, OBJECT, 0.8 if found else 0.0, found)]
    if not found:
        return SampleExplanation(scene, "rgb", torch.zeros(3, 40, 40), [], [], objects)
    target = Target(box=torch.tensor(OBJECT), label=1, score=0.8, class_probs=torch.zeros(2), anchor=0)
    curve = CurveResult(torch.tensor([0.0, 1.0]), torch.tensor([0.8, 0.0]), 0.4, 0.5)
    saliency = torch.zeros(40, 40)
    saliency[10:30, 10:30] = 1.0
    result = BoxResult(scene, "rgb", target, 0, "gradcam", saliency, 0.1, 0.5,
                       **scored(curve, curve, Localisation(1.0, 1.0, 0.0, "annotation")))
    return SampleExplanation(scene, "rgb", torch.zeros(3, 40, 40), [target], [result], objects)


def test_collect_gathers_rows_groups_objects_grids_and_skips_without_a_disk():
    nets = [Net("a", ImageSpec(["person", "car"])), Net("b", ImageSpec(["person", "car"], (0.5,) * 3, (0.2,) * 3))]
    sanity = [SanityResult("001", "rgb", 0, "gradcam", "class_predict", 0.5, 0.5, torch.zeros(40, 40), "anchor")]
    explained = [ExplainedScene(0, 0, "001", "rgb", _explanation("001", True), sanity),
                 ExplainedScene(0, 0, "002", "rgb", _explanation("002", True)),
                 ExplainedScene(1, 1, "001", "rgb", _explanation("001", False)),  # b missed the car: nothing to explain
                 ExplainedScene(1, 1, "002", "rgb", _explanation("002", True))]
    explainer = Explainer(ExplainSettings(["gradcam"], baselines=False, bootstrap_resamples=100))
    conditions = {"001": Condition("night", "file"), "002": Condition("day", "file")}
    collected = collect(nets, explainer, ["001", "002"], explained, 1, conditions)

    assert collected.skipped == 1 and [s.stem for s in collected.shown] == ["a_rgb_001", "a_rgb_002", "b_rgb_002"]
    assert collected.columns[:6] == ["model", "sample_id", "spectrum", "box", "kind", "method"]
    assert [row[:3] for row in collected.rows] == [["a", "001", "rgb"], ["a", "002", "rgb"], ["b", "002", "rgb"]]
    assert {key: len(results) for key, results in collected.groups.items()} == {("a", "rgb", "detection"): 2,
                                                                               ("b", "rgb", "detection"): 1}
    assert [(e["model"], e["gradcam"]["boxes"]) for e in collected.table] == [("a", 2), ("b", 1)]
    assert list(collected.sanity) == [("a", "rgb")] and collected.sanity["a", "rgb"] == sanity
    # one grid asked for: the first scene, with the one net that explained something there
    assert list(collected.grids) == ["001"] and [row[0] for row in collected.grids["001"]] == ["a | "]
    assert collected.evaluated == ["a on rgb", "b on rgb"]
    night, day = collected.records
    assert (night.scene, night.condition.name, night.finders) == ("001", "night", ["a on rgb"])
    assert day.finders == ["a on rgb", "b on rgb"]
    explanation, spec = collected.explanation_of("b on rgb", "002")
    assert explanation.sample_id == "002" and spec.mean == (0.5, 0.5, 0.5)
    assert collected.explanation_of("b on rgb", "001") is None
    assert collected.scalars["explain/gradcam/deletion_auc"] == 0.4
    assert {(r["measure"], r["metric"]) for r in collected.reliability} >= {("alpha across scenes", "deletion_auc")}


def test_nets_of_one_family_are_compared_together_and_tabled_apart():
    """Two nets that differ only by seed: one arm of every comparison (no spectrum contrast of the
    family with itself), while Table 2 keeps a row per net."""
    spec = ImageSpec(["person", "car"])
    explained = [ExplainedScene(net, net, scene, "rgb", _explanation(scene, True)) for net in (0, 1) for scene in ("001", "002")]
    explainer = Explainer(ExplainSettings(["gradcam"], bootstrap_resamples=100))
    apart = collect([Net("a", spec), Net("b", spec)], explainer, ["001", "002"], explained, 0, {})
    together = collect([Net("a", spec, "ab"), Net("b", spec, "ab")], explainer, ["001", "002"], explained, 0, {})
    assert {c.scope for c in apart.compared if c.table == "methods"} == {"a on rgb", "b on rgb"}
    assert {c.scope for c in together.compared if c.table == "methods"} == {"ab on rgb"}
    assert [c for c in apart.compared if c.table == "spectra"] and not [c for c in together.compared if c.table == "spectra"]
    assert [e["model"] for e in together.table] == ["a", "b"]
