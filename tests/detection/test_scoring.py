"""The re-identification rule's edge cases, on hand-made detections."""
import pytest
import torch

from spectral_xai.detection import Detections, DRiseSimilarity, MatchedScore, Target

TARGET = Target(box=torch.tensor([0.0, 0.0, 10.0, 10.0]), label=1, score=0.9,
                class_probs=torch.tensor([0.1, 0.9, 0.0]), anchor=0)


def detections(rows: list[tuple[list[float], float, int]]) -> Detections:
    """One image; each row: box, score, label; class vector = one-hot at the label times the score."""
    k = max(1, len(rows))
    boxes, scores = torch.zeros(1, k, 4), torch.zeros(1, k)
    labels, probs = torch.full((1, k), -1), torch.zeros(1, k, 3)
    for i, (box, score, label) in enumerate(rows):
        boxes[0, i], scores[0, i], labels[0, i] = torch.tensor(box), score, label
        probs[0, i, label] = score
    return Detections(boxes, scores, labels, probs, torch.zeros(1, k, dtype=torch.long))


def score(rows, rule=None) -> float:
    return float((rule or MatchedScore())(detections(rows), TARGET).scores[0])


def test_no_detection_scores_zero():
    assert score([]) == 0.0


def test_class_mismatch_scores_zero():
    assert score([([0, 0, 10, 10], 0.8, 2)]) == 0.0


def test_below_score_threshold_scores_zero_at_threshold_counts():
    assert score([([0, 0, 10, 10], 0.049, 1)]) == 0.0
    assert score([([0, 0, 10, 10], 0.05, 1)]) == pytest.approx(0.05)


def test_iou_exactly_one_half_matches_just_below_does_not():
    # [0,0,10,5] vs [0,0,10,10]: intersection 50, union 100 -> IoU exactly 0.5.
    assert score([([0, 0, 10, 5], 0.7, 1)]) == pytest.approx(0.7)
    assert score([([0, 0, 10, 4.9], 0.7, 1)]) == 0.0


def test_of_two_matches_the_higher_iou_wins_not_the_higher_score():
    rows = [([0, 0, 10, 6], 0.95, 1), ([0, 0, 10, 9], 0.3, 1)]
    match = MatchedScore()(detections(rows), TARGET)
    assert float(match.scores[0]) == pytest.approx(0.3) and int(match.index[0]) == 1
    assert torch.allclose(match.vectors[0], torch.tensor([0.0, 0.3, 0.0]))


def test_unmatched_vector_is_zero_and_index_minus_one():
    match = MatchedScore()(detections([([50, 50, 60, 60], 0.9, 1)]), TARGET)
    assert int(match.index[0]) == -1 and match.vectors.abs().sum() == 0


def test_drise_similarity_is_iou_times_cosine_times_confidence():
    rows = [([0, 0, 10, 5], 0.7, 1), ([0, 0, 10, 10], 0.9, 2)]
    cosine_first = 0.9 / (0.1**2 + 0.9**2) ** 0.5  # one-hot class 1 against (0.1, 0.9, 0)
    # the first box: IoU 0.5, confidence (its best class probability) 0.7; the second: IoU 1 but
    # class 2 is orthogonal to the target's vector -> similarity 0
    assert score(rows, DRiseSimilarity()) == pytest.approx(0.5 * cosine_first * 0.7, abs=1e-6)
    assert score([], DRiseSimilarity()) == 0.0


def test_anchor_rule_reads_the_targets_own_anchor_whatever_was_detected():
    """The anchor rule scores the target's class probability at its anchor in the raw head outputs:
    no NMS, no floor, no re-identification; a randomised net cannot make it 0 by construction."""
    from spectral_xai.data_modules.layout import CLASS_NAMES
    from spectral_xai.detection import AnchorScore, DetectionScorer, Scoring

    from spectral_xai.lit_modules import EfficientDetModule
    torch.manual_seed(0)
    detector = EfficientDetModule(CLASS_NAMES, image_size=128).eval().detector()
    images = torch.rand(3, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        target = Target.from_detections(detector(images[:1]), rank=5)
        raw = detector.raw(images)
    level, a, y, x = detector.locate(raw, target.anchor)
    c = detector.num_classes
    expected = raw[0][level][:, a * c + target.label, y, x].sigmoid()
    match = DetectionScorer(detector, Scoring("anchor").build()).match(images, target)
    assert isinstance(Scoring("anchor").build(), AnchorScore)
    assert torch.allclose(match.scores, expected) and (match.scores > 0).all()
    assert float(match.scores[0]) == pytest.approx(target.score, abs=1e-5)  # the unaltered image: its own score
    assert torch.allclose(match.vectors[:, target.label], match.scores)


def test_scorer_drops_candidates_below_the_rules_floor_without_changing_its_answer():
    from spectral_xai.data_modules.layout import CLASS_NAMES
    from spectral_xai.detection import DetectionScorer
    from spectral_xai.lit_modules import EfficientDetModule

    torch.manual_seed(0)
    detector = EfficientDetModule(CLASS_NAMES, image_size=128).eval().detector()
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(1, 3, 128, 128, generator=generator) + 0.2 * torch.randn(6, 3, 128, 128, generator=generator)
    with torch.no_grad():
        full = detector(images)
    # An untrained net scores about 0.01; put the floor among its scores so that it drops some.
    rule = MatchedScore(min_score=float(full.scores[:, 10].median()))
    target = Target.from_detections(full, image=0, rank=0)
    scorer = DetectionScorer(detector, rule, batch_size=4)
    expected = rule(full, target).scores
    assert int((expected > 0).sum()) >= 2
    assert torch.equal(scorer(images, target), expected)


def test_rules_that_read_a_batch_differently_cannot_share_a_reading():
    from spectral_xai.detection import AnchorScore, Scoring, TargetRules

    with pytest.raises(ValueError, match="cannot share"):
        TargetRules({"detection": MatchedScore(), "missed": AnchorScore()})
    shared = Scoring().build_for(["missed", "detection"])
    assert set(shared.rules) == {"detection", "missed"} and shared.min_score == 0.0
    assert Scoring().build_for(["detection"]).min_score == 0.05  # no floor lowered for a kind not explained
