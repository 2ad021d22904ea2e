"""Generator families and their registry (one module per family)."""

from .base import REGISTRY, Cell, Generator, Sample, get_generator_class, register

__all__ = ["REGISTRY", "Cell", "Generator", "Sample", "get_generator_class", "register"]
