from __future__ import annotations

import threading
import time

import pytest

from longsynth.read_ahead import ordered_map, read_ahead


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


def test_write_behind_writes_in_order_on_another_thread_and_waits_for_all():
    from longsynth.read_ahead import WriteBehind

    written, threads = [], []

    def write(item):
        time.sleep(0.002)
        threads.append(threading.current_thread())
        written.append(item)

    with WriteBehind(depth=3) as writer:
        for n in range(40):
            writer.put(write, n)
    assert written == list(range(40))  # every write done on leaving, in order
    assert all(t is not threading.main_thread() for t in threads)


def test_write_behind_runs_at_most_depth_writes_behind():
    from longsynth.read_ahead import WriteBehind

    release = threading.Event()
    put = []

    def writes():
        with WriteBehind(depth=2) as writer:
            for n in range(6):
                writer.put(release.wait)
                put.append(n)

    caller = threading.Thread(target=writes)
    caller.start()
    time.sleep(0.3)
    assert put == [0, 1]  # the third waits for the first write
    release.set()
    caller.join(timeout=5)
    assert put == list(range(6))


def test_a_failed_write_is_raised_to_the_caller():
    from longsynth.read_ahead import WriteBehind

    def write(item):
        if item == 3:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        with WriteBehind(depth=2) as writer:
            for n in range(10):
                writer.put(write, n)


def test_ordered_map_runs_items_at_once_and_yields_them_in_order():
    """Two workers hold two items at the same time (each waits for the other at a barrier, which one
    thread alone would never pass); results come in item order whatever order they finish in."""
    barrier = threading.Barrier(2, timeout=10)

    def work(n: int) -> int:
        barrier.wait()
        time.sleep(0.01 * (n % 2 == 0))  # even items finish last
        return n * n

    assert list(ordered_map(work, range(10), workers=2)) == [n * n for n in range(10)]


def test_ordered_map_keeps_at_most_ahead_items_in_flight_and_raises_errors():
    running, most = [0], [0]
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.005)
        with lock:
            running[0] -= 1
        if n == 7:
            raise ValueError("bad block 7")
        return n

    seen = []
    with pytest.raises(ValueError, match="bad block 7"):
        for n in ordered_map(work, range(20), workers=4, ahead=2):
            seen.append(n)
    assert seen == list(range(7))
    assert most[0] <= 3  # the one being taken and `ahead` more
