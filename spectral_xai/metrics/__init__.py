from .agreement import spearman, stability
from .insertion_deletion import (CHECKS, FILLS, PAPER_FILL, CurveResult, deletion, deletion_substrate, insertion,
                                 insertion_deletion, metric_checks)
from .localisation import Localisation, judged_box, localisation
from .registry import METRICS, Metric, ScoredMap, register, score_map, unregister
from .spectrum_attribution import SpectrumScore, spectrum_attribution

__all__ = ["CHECKS", "CurveResult", "FILLS", "PAPER_FILL", "deletion", "deletion_substrate", "insertion",
           "insertion_deletion", "metric_checks", "Localisation", "judged_box", "localisation", "METRICS", "Metric",
           "ScoredMap", "register", "score_map", "unregister", "SpectrumScore", "spectrum_attribution", "spearman",
           "stability"]
