from .agreement import spearman, stability
from .insertion_deletion import (CHECKS, FILLS, PAPER_FILL, CurveResult, deletion, deletion_substrate, insertion,
                                 insertion_deletion, metric_checks)
from .localisation import Localisation, judged_box, localisation
from .known_causes import KnownCauses  # after the paper's and the localisation's: the registry's order
from .registry import METRICS, Metric, ScoredMap, register, score_map, unregister
from .spectrum_attribution import SpectrumScore, spectrum_attribution

__all__ = ["CHECKS", "CurveResult", "FILLS", "PAPER_FILL", "deletion", "deletion_substrate", "insertion",
           "insertion_deletion", "metric_checks", "Localisation", "judged_box", "localisation", "KnownCauses", "METRICS", "Metric",
           "ScoredMap", "register", "score_map", "unregister", "SpectrumScore", "spectrum_attribution", "spearman",
           "stability"]
