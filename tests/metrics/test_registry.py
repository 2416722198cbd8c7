"""A metric is one registration: once registered, it is scored for every map and reaches boxes.csv,
the report's tables, the statistics, the comparisons, the logged scalars and the reliability
without another change."""
import math
import pickle

import numpy as np
import pytest
import torch

from spectral_xai.analysis.contrasts import comparisons
from spectral_xai.explaining import Explainer
from spectral_xai.explain_settings import ExplainSettings
from spectral_xai.metrics import METRICS, Metric, register, unregister
from spectral_xai.metrics.registry import get
from spectral_xai.analysis.reliability import metric_reliability
from spectral_xai.reporting.box_table import box_table
from spectral_xai.reporting.tables import method_rows, method_scalars, summarize, write_summary
from spectral_xai.settings import SettingsError
from spectral_xai.analysis.statistics import Inference, primary_pairs

from ..helpers.region_detector import REGION_SLICE, region_detector

METHODS = ["gradcam", "rise", "box", "random"]


def region_share(saliency: torch.Tensor) -> float:
    """The share of a map's mass on the one tile that drives the region detector's score: its known cause."""
    total = float(saliency.sum())
    return float(saliency[REGION_SLICE].sum()) / total if total > 0 else math.nan


@pytest.fixture
def toy_metric():
    metric = register(Metric("region_share", "known_causes", False, lambda scored: region_share(scored.saliency),
                             "share on the true cause", "region share", primary=True))
    yield metric
    unregister(metric.name)


def explained(scenes: int = 4) -> list:
    settings = ExplainSettings(METHODS[:2], {"rise": {"n_masks": 24}}, step=0.5, batch_size=8, target_min_score=0.0)
    explainer = Explainer(settings)
    results = []
    for i in range(scenes):
        image = 0.6 + 0.4 * torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(i))
        sample = {"image": image, "sample_id": f"{i:06d}", "spectrum": "mir"}
        results += explainer.explain(region_detector(), sample).results
    return results


def test_a_metric_registered_in_one_place_reaches_every_table(toy_metric, tmp_path):
    results = explained()
    assert {r.method for r in results} == set(METHODS) and all(r.ok for r in results)
    for r in results:
        assert r.scores["region_share"] == pytest.approx(region_share(r.saliency), nan_ok=True)

    columns, rows = box_table([(None, ["person", "car"], r) for r in results])
    cells = [row[columns.index("region_share")] for row in rows]
    assert cells == [None if math.isnan(v := r.scores["region_share"]) else v for r in results]  # to the last digit

    groups = {("net", "mir", "detection"): results}
    table = summarize(groups, METHODS, Inference(resamples=200))
    gradcam = [region_share(r.saliency) for r in results if r.method == "gradcam"]
    assert table[0]["gradcam"]["region_share"]["mean"] == pytest.approx(np.mean(gradcam))  # one box a scene
    header, line = write_summary(tmp_path, table, METHODS, 0.5, "top")
    assert "gradcam region share" in header and "gradcam region share 95% CI" in header
    assert line[header.index("gradcam region share")].startswith(f"{np.mean(gradcam):.3f}")
    assert "region share ICC" in method_rows(table[0], METHODS)[0]
    assert "region share" in (tmp_path / "summary.csv").read_text().splitlines()[0]

    compared = comparisons(groups, METHODS, primary_pairs(METHODS), Inference(resamples=200))
    toy = [c for c in compared if c.metric == "region_share"]
    assert {(c.a, c.b) for c in toy if c.family == "primary"} == {("gradcam", "box"), ("gradcam", "random"),
                                                                  ("rise", "box"), ("rise", "random"), ("gradcam", "rise")}
    assert method_scalars(results, METHODS)["explain/gradcam/region_share"] == pytest.approx(np.mean(gradcam))
    rows = metric_reliability(groups, METHODS)
    assert any(row["metric"] == "region_share" and row["measure"] == "alpha across scenes" for row in rows)


def test_without_the_registration_nothing_of_it_is_left():
    results = explained(scenes=1)
    assert "region_share" not in METRICS and all("region_share" not in r.scores for r in results)
    columns, _ = box_table([(None, ["person", "car"], r) for r in results])
    assert not any("region" in column for column in columns)


def test_a_metric_is_registered_once_judges_something_known_and_an_unknown_name_is_refused(toy_metric):
    with pytest.raises(ValueError, match="registered already"):
        register(toy_metric)
    with pytest.raises(ValueError, match="judges"):
        register(Metric("vibes", "taste", False, lambda scored: 0.0, "vibes", "vibes"))
    assert get("deletion_auc_normalised") is METRICS["deletion_auc"]
    with pytest.raises(SettingsError, match="unknown metric 'nonsense'"):
        get("nonsense")


def test_the_registry_holds_the_papers_metrics_first_and_the_others_behind_their_switches():
    assert list(METRICS)[:2] == ["deletion_auc", "insertion_auc"]
    assert [m.name for m in METRICS.values() if m.primary and m.switch is None] == ["deletion_auc", "insertion_auc"]
    assert {m.name for m in METRICS.values() if m.switch == "known_causes"} == {"part_ranking", "top_part",
                                                                              "cue_enrichment", "target_sensitivity"}
    assert {m.name for m in METRICS.values() if m.switch == "metric_checks"} == {
        "deletion_auc_other_fill", "insertion_auc_other_fill", "deletion_auc_least_relevant_first",
        "insertion_auc_least_relevant_first"}
    assert {m.name for m in METRICS.values() if m.switch == "road_checks"} == {"deletion_auc_road", "insertion_auc_road"}
    assert {m.judges for m in METRICS.values()} == {"detector", "annotations", "known_causes"}


def test_an_explainer_with_every_metric_switched_on_travels_to_other_processes():
    """explain.py shares a run over processes by pickling its plan, the explainer and its metrics with it."""
    settings = ExplainSettings(["gradcam", "rise"], metric_checks=True, road_checks=True, known_causes=True)
    copy = pickle.loads(pickle.dumps(Explainer(settings)))
    assert [m.name for m in copy.metrics] == list(METRICS)
