"""NExtLong: long training documents from short ones, extended with hard negatives."""

from .generator import NextLongGenerator

__all__ = ["NextLongGenerator"]
