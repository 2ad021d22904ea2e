"""The needlebench family's options."""

from __future__ import annotations

from dataclasses import dataclass

from ...text.language import CODES
from ..options import option

HAYSTACKS = ("prose", "noise", "none")
RELATIONS = ("father", "mother", "grandfather", "grandmother")  # ATC: each states who is the elder
RELATIONS_ZH = ("父亲", "母亲", "祖父", "祖母")


@dataclass(frozen=True)
class NeedleBenchOptions:
    haystack: str = option(
        "prose",
        "filler around the needles; none (ancestral_trace only): the needles are the context",
        choices=HAYSTACKS,
    )
    num_needles: int = option(
        5,
        "needles per sample: multi_retrieval 5; multi_reasoning 2 to 5 (default 2); ancestral_trace 2 to 512 (8)",
        minimum=1,
        maximum=512,
    )
    distractors: int = option(
        -1,
        "needles that are not asked about: multi_retrieval boxes of other people, multi_reasoning other chains "
        "of the same links, ancestral_trace other family lines as long as the asked one (-1: the task's default, "
        "5, 3 and 2; 0: none, as NeedleBench)",
        minimum=-1,
        maximum=512,
    )
    language: str = option(
        "en",
        "language of the haystack, needles and questions (zh: Chinese; the *_zh tasks preset it)",
        choices=CODES,
    )
