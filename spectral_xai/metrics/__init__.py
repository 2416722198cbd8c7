from .agreement import spearman, stability
from .insertion_deletion import CurveResult, deletion, deletion_substrate, insertion, insertion_deletion
from .localisation import Localisation, localisation
from .spectrum_attribution import SpectrumScore, spectrum_attribution

__all__ = ["CurveResult", "deletion", "deletion_substrate", "insertion", "insertion_deletion", "Localisation",
           "localisation", "SpectrumScore",
           "spectrum_attribution", "spearman", "stability"]
