"""RULER's needle-in-a-haystack tasks on a length x depth grid."""

from .generator import NeedleGenerator

__all__ = ["NeedleGenerator"]
