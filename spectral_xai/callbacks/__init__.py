from .explanation import ExplanationCallback
from .preemption import Preemption
from .split_record import SplitRecord

__all__ = ["ExplanationCallback", "Preemption", "SplitRecord"]
