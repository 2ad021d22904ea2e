"""An example longsynth family: which colour is a labelled box? (see README.md)."""

from .generator import ToyGenerator

__all__ = ["ToyGenerator"]
