"""HoloBench: questions that need database operations over verbalized rows."""

from .generator import HoloBenchGenerator

__all__ = ["HoloBenchGenerator"]
