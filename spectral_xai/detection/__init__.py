"""A detector and its detections: the protocol every method asks of a detector, the traced
EfficientDet that implements it, one way to score a detection in altered
images, and perturbed batches. ``explainers`` and ``metrics`` both stand on this; neither imports
the other."""
from .detector import TARGET_KINDS, Detections, EffdetDetector, Target
from .perturbation import perturbed_matches
from .protocol import Detector
from .scoring import (AnchorScore, DetectionScorer, DRiseSimilarity, Match, MatchedScore, ObjectScore, Scoring,
                      ScoringRule, TargetRules)

__all__ = ["TARGET_KINDS", "AnchorScore", "Detections", "Detector", "EffdetDetector", "Target", "perturbed_matches", "DetectionScorer", "DRiseSimilarity",
           "Match", "MatchedScore", "ObjectScore", "Scoring", "ScoringRule", "TargetRules"]
