from .insertion_deletion import CurveResult, deletion, deletion_substrate, insertion, insertion_deletion
from .spectrum_attribution import SpectrumScore, spectrum_attribution

__all__ = ["CurveResult", "deletion", "deletion_substrate", "insertion", "insertion_deletion", "SpectrumScore",
           "spectrum_attribution"]
