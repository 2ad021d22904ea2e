"""Per-sample seeds derived from the spec seed and the sample's identity.

A generator never touches global random state: each sample gets its own
`random.Random` seeded from (spec seed, generator, task, length, depth, index,
attempt). That makes a sample a pure function of the spec and its id, so a
build is byte-identical across runs, processes and machines, and any single
row can be regenerated on its own.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from any printable parts (never Python's salted `hash`)."""
    text = "\x1f".join(repr(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def rng_for(seed: int) -> random.Random:
    return random.Random(seed)
