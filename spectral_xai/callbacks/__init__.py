from .explanation import ExplanationCallback
from .split_record import SplitRecord

__all__ = ["ExplanationCallback", "SplitRecord"]
