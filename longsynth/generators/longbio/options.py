"""The longbio family's options."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option
from .people import ATTRIBUTES

# Tasks that ask an attribute's value (the arithmetic ones ask ages); that ask about more than one bio
# (where depth_min / depth_max place the others); that take solved demonstrations.
VALUE_ASKING = (
    "bio_standard", "bio_multi_standard", "bio_paraphrase", "bio_pronoun", "bio_multihop", "bio_citation", "bio_idk",
)  # fmt: skip
SEVERAL_ASKED = ("bio_multi_standard", "bio_calculation", "bio_rank", "bio_multihop", "bio_twodiff", "bio_citation")
WITH_SHOTS = tuple(t for t in (*VALUE_ASKING, "bio_calculation", "bio_rank", "bio_twodiff") if t != "bio_idk")


@dataclass(frozen=True)
class LongBioOptions:
    num_people: int = option(
        0,
        "people asked about (0: the task's default; multi 2/5/10, rank 2/5, multihop 2/5, citation 1/2)",
        minimum=0,
        maximum=100,
    )
    attribute: str = option(
        "", "attribute to ask (empty: drawn per sample)", choices=("", *ATTRIBUTES), tasks=VALUE_ASKING
    )
    density: float = option(1.0, "probability a distractor bio keeps the asked attribute", minimum=0.0, maximum=1.0)
    depth_min: float = option(
        0.0, "lowest depth for asked bios after the first", minimum=0.0, maximum=100.0, tasks=SEVERAL_ASKED
    )
    depth_max: float = option(
        100.0, "highest depth for asked bios after the first", minimum=0.0, maximum=100.0, tasks=SEVERAL_ASKED
    )
    shots: int = option(
        -1,
        "solved demonstrations in the prompt, their bios in the haystack (-1: the paper's setting,"
        " 2 for calculation, rank, multihop, twodiff and citation, 0 otherwise)",
        minimum=-1,
        maximum=50,
        tasks=WITH_SHOTS,
    )
