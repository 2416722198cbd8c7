"""Figures and tables of explanations, shared by the training callback and explain.py."""
