"""The babilong family: bAbI's qa1-qa5 stories hidden in a long haystack (BABILong)."""

from .generator import BabilongGenerator

__all__ = ["BabilongGenerator"]
