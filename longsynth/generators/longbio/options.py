"""The longbio family's options."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option
from .people import ATTRIBUTES


@dataclass(frozen=True)
class LongBioOptions:
    num_people: int = option(
        0,
        "people asked about (0: the task's default; multi 2/5/10, rank 2/5, multihop 2/5, citation 1/2)",
        minimum=0,
        maximum=100,
    )
    attribute: str = option("", "attribute to ask (empty: drawn per sample)", choices=("", *ATTRIBUTES))
    density: float = option(1.0, "probability a distractor bio keeps the asked attribute", minimum=0.0, maximum=1.0)
    depth_min: float = option(0.0, "lowest depth for asked bios after the first", minimum=0.0, maximum=100.0)
    depth_max: float = option(100.0, "highest depth for asked bios after the first", minimum=0.0, maximum=100.0)
    shots: int = option(
        -1,
        "solved demonstrations in the prompt, their bios in the haystack (-1: the paper's setting,"
        " 2 for calculation, rank, multihop, twodiff and citation, 0 otherwise)",
        minimum=-1,
        maximum=50,
    )
