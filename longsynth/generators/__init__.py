"""Generator families (one folder each) and the registry that finds them."""

from .base import Cell, Generator, Sample, Task
from .options import option
from .registry import REGISTRY, get_generator_class

__all__ = ["REGISTRY", "Cell", "Generator", "Sample", "Task", "get_generator_class", "option"]
