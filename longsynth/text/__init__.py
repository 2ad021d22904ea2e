"""Haystack text: built-in sources, user corpora, sentence units counted once."""
