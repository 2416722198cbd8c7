from .explanation import ExplanationCallback
from .preemption import Preemption
from .run_record import RunRecord

__all__ = ["ExplanationCallback", "Preemption", "RunRecord"]
