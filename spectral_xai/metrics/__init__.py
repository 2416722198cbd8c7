from .insertion_deletion import CurveResult, deletion, insertion, insertion_deletion

__all__ = ["CurveResult", "deletion", "insertion", "insertion_deletion"]
