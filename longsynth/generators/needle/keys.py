"""The vocabulary of needle keys and word values: adjective-noun pairs ("fierce-lagoon").

RULER draws its keys from the adjective and noun lists of the `wonderwords` package (912 x 6,782
words). We read the same lists from the installed package (never a copy), keep the words that are
plain lower-case letters and not in its profanity list, and sort them, so the keys do not depend on
file order: 900 adjectives x 6,663 nouns, about 6 million keys. With a vocabulary this size, a 128K
haystack of distractor needles holds about as few near misses (distractors sharing a word with the
asked key) as RULER's.
"""

from __future__ import annotations

import functools

from ...text import vocabulary_zh
from ...text.vocabulary import profanity, wonderwords_list


@functools.lru_cache(maxsize=2)
def key_words(language: str = "en") -> tuple[list[str], list[str]]:
    """(adjectives, nouns); Chinese ones from `text.vocabulary_zh`."""
    if language == "zh":
        return list(vocabulary_zh.ADJECTIVES), list(vocabulary_zh.NOUNS)
    return wonderwords_list("adjectivelist.txt", profanity()), wonderwords_list("nounlist.txt", profanity())
