from .agreement import spearman, stability
from .insertion_deletion import (CHECKS, FILLS, PAPER_FILL, CurveResult, deletion, deletion_substrate, insertion,
                                 insertion_deletion, metric_checks)
from .localisation import Localisation, localisation
from .spectrum_attribution import SpectrumScore, spectrum_attribution

__all__ = ["CHECKS", "CurveResult", "FILLS", "PAPER_FILL", "deletion", "deletion_substrate", "insertion",
           "insertion_deletion", "metric_checks", "Localisation", "localisation", "SpectrumScore",
           "spectrum_attribution", "spearman", "stability"]
