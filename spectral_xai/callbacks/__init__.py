from .explanation import ExplanationCallback

__all__ = ["ExplanationCallback"]
