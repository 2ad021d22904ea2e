"""NeedleBench's multi-needle retrieval, multi-needle reasoning and Ancestral Trace Challenge."""

from .generator import NeedleBenchGenerator

__all__ = ["NeedleBenchGenerator"]
