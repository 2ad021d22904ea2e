"""NExtLong's document splitting as a document grows: one line with no line breaks (a scraped page,
a minified file), cut into meta-chunks by tokens (`chunk_tokens=256`, cl100k) and by characters.

Prints seconds per size and the ratio of each size's time to the one before it: a doubling of the
document should about double the time (ratio ~2, linear); a ratio near 4 is quadratic. A single
2.8 MB line took over 120 s with the old splitter. Run: python bench/chunking.py [--largest-mb 2.8]
"""

from __future__ import annotations

import argparse
import time

from longsynth.generators.nextlong.chunking import chunk_document
from longsynth.text.prose import prose_sentences
from longsynth.tokenizers import get_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--largest-mb", type=float, default=2.8)
    parser.add_argument("--steps", type=int, default=4, help="sizes, each half the next")
    args = parser.parse_args()
    tokenizer = get_tokenizer("cl100k_base")
    text = " ".join(prose_sentences(40_000, seed=1))
    while len(text) < args.largest_mb * 1e6:
        text += " " + text
    sizes = [int(args.largest_mb * 1e6 / 2**k) for k in range(args.steps - 1, -1, -1)]
    for name, chunk in (("tokens (256)", lambda t: chunk_document(t, 256, tokenizer.count)),
                        ("characters (2048)", lambda t: chunk_document(t, 2048))):  # fmt: skip
        previous = None
        for size in sizes:
            document = text[:size].replace("\n", " ")
            started = time.perf_counter()
            chunks = chunk(document)
            seconds = time.perf_counter() - started
            assert "".join(c.text + c.joiner for c in chunks) == document
            ratio = f", x{seconds / previous:.2f} for twice the text" if previous else ""
            print(f"{name}: one {size / 1e6:.2f} MB line -> {len(chunks):,} chunks in {seconds:.2f} s{ratio}")
            previous = seconds


if __name__ == "__main__":
    main()
