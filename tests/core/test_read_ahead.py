from __future__ import annotations

import threading
import time

import pytest

from longsynth.read_ahead import read_ahead


def test_items_come_in_order_from_another_thread():
    threads = []

    def items():
        for n in range(50):
            threads.append(threading.current_thread())
            yield n

    assert list(read_ahead(items(), depth=3)) == list(range(50))
    assert all(t is not threading.main_thread() for t in threads)


def test_a_producer_error_is_raised_where_its_item_would_come():
    def items():
        yield 1
        yield 2
        raise ValueError("bad document 3")

    seen = []
    with pytest.raises(ValueError, match="bad document 3"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_closing_early_stops_the_producer():
    made = []

    def items():
        for n in range(10_000):
            made.append(n)
            yield n

    reader = read_ahead(items(), depth=2)
    assert next(reader) == 0
    reader.close()
    count = len(made)
    time.sleep(0.3)
    assert len(made) == count <= 4  # at most depth + the item in hand + the one taken
    assert not any(t.name == "longsynth-read-ahead" for t in threading.enumerate())
