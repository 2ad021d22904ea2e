"""RULER's synthetic suite: the needle family's eight NIAH tasks plus vt, cwe, fwe, qa_1 and qa_2."""

from .generator import RulerGenerator

__all__ = ["RulerGenerator"]
