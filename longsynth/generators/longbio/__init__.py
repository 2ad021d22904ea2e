"""LongBioBench: questions over a haystack of artificial biographies."""

from .generator import LongBioGenerator

__all__ = ["LongBioGenerator"]
