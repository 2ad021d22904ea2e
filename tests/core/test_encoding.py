"""Background encoding: results equal a plain measurement, errors surface where they are asked
for, and only one encode runs while the build thread is busy."""

from __future__ import annotations

import threading
import time

import pytest

from longsynth.encoding import Encoders
from longsynth.tokenizers import get_tokenizer, measure


@pytest.fixture(scope="module")
def tokenizer():
    return get_tokenizer("cl100k_base")


def test_results_match_a_plain_measurement(tokenizer):
    texts = [" ".join(f"sentence {k} of text {n}." for k in range(300 + n)) for n in range(6)]
    with Encoders(tokenizer, 2) as encoders:
        jobs = [encoders.submit(t) for t in texts]
        results = [encoders.result(j) for j in jobs]
    for text, got in zip(texts, results, strict=True):
        want = measure(tokenizer, text)
        assert got.length == want.length
        assert (got.ids == want.ids).all()
        assert got.tokens_before(len(text) // 2) == want.tokens_before(len(text) // 2)


class _SlowTokenizer:
    """Wraps a tokenizer: records how many encodes overlap, and fails on a marked text."""

    def __init__(self, inner):
        self.inner = inner
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def encode_array(self, text):
        if text == "boom":
            raise ValueError("cannot encode boom")
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return self.inner.encode_array(text)

    def char_ends(self, text, ids):
        return self.inner.char_ends(text, ids)


def test_one_encode_at_a_time_while_the_build_thread_works(tokenizer):
    slow = _SlowTokenizer(tokenizer)
    with Encoders(slow, 3) as encoders:
        jobs = [encoders.submit(f"text number {n}") for n in range(5)]
        time.sleep(0.2)  # busy elsewhere: the queue is worked through one text at a time
        assert slow.most == 1
        for job in jobs:
            encoders.result(job)


def test_every_thread_encodes_while_the_build_thread_waits(tokenizer):
    slow = _SlowTokenizer(tokenizer)
    with Encoders(slow, 3) as encoders:
        jobs = [encoders.submit(f"text number {n}") for n in range(9)]
        encoders.result(jobs[-1])
    assert slow.most >= 2


def test_an_encoding_error_is_raised_where_the_result_is_asked_for(tokenizer):
    slow = _SlowTokenizer(tokenizer)
    with Encoders(slow, 2) as encoders:
        good, bad = encoders.submit("fine"), encoders.submit("boom")
        assert encoders.result(good).length > 0
        with pytest.raises(ValueError, match="cannot encode boom"):
            encoders.result(bad)


def test_a_sample_error_stops_the_pipeline_in_cell_order(tokenizer):
    """An error raised while making sample k (here: every draw of it cannot be fitted) comes out after
    rows 0..k-1, once its draws are spent, and no encoding thread is left running."""
    from longsynth.errors import BudgetError
    from longsynth.pipeline import generate_rows, make_generator, plan
    from longsynth.spec import load_spec

    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=8)
    generator = make_generator(spec)
    cells = plan(spec)["niah_single_1"]
    real = generator.sample

    def sample(cell, rng, budget_adjust=0):
        if cell.index == 5:
            raise BudgetError("no room for sample 5")
        return real(cell, rng, budget_adjust)

    generator.sample = sample
    before = threading.active_count()
    made = []
    with pytest.raises(BudgetError, match=f"{cells[5].id} failed all 5 draws.*no room for sample 5"):
        for row in generate_rows(generator, cells, threads=2):
            made.append(row["id"])
    assert made == [cell.id for cell in cells[:5]]
    assert threading.active_count() == before


class _LoadingTokenizer(_SlowTokenizer):
    """A slow tokenizer whose faster measurer is "loading" until `loaded` is set."""

    def __init__(self, inner):
        super().__init__(inner)
        self.loaded = threading.Event()

    def helper_loading(self):
        return not self.loaded.is_set()

    def wait_for_helper(self, seconds):
        self.loaded.wait(seconds)


def test_while_the_helper_loads_texts_are_encoded_only_while_the_build_thread_waits(tokenizer):
    slow = _LoadingTokenizer(tokenizer)
    with Encoders(slow, 2) as encoders:
        assert encoders.loading
        jobs = [encoders.submit(f"text number {n}") for n in range(6)]
        time.sleep(0.1)  # the build thread is busy: the other core is the helper's
        assert slow.most == 0 and not any(job.done.is_set() for job in jobs)
        assert encoders.result(jobs[0]).length > 0  # waiting: the encoding threads run
        slow.loaded.set()
        for job in jobs:
            encoders.result(job)
        assert not encoders.loading


class _LoadingTiktoken(_LoadingTokenizer):
    def __getattr__(self, name):  # what a generator reads (name, count, ...) is the real tokenizer's
        return getattr(self.inner, name)


def _count_samples(generator) -> list:
    made, real = [], generator.sample
    generator.sample = lambda cell, rng, budget_adjust=0: made.append(cell) or real(cell, rng, budget_adjust)
    return made


def test_the_build_thread_makes_samples_ahead_while_the_helper_loads(tokenizer, monkeypatch):
    """Up to AHEAD_TOKENS of samples are made before the first row is finished (not the
    usual two per encoding thread), and the rows are those of a one-thread build, also when the
    helper never loads (the samples are then encoded while the build thread waits)."""
    from longsynth import pipeline
    from longsynth.spec import load_spec

    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=12)
    cells = pipeline.plan(spec)["niah_single_1"]
    expected = list(pipeline.generate_rows(pipeline.make_generator(spec), cells, threads=1))
    monkeypatch.setattr(pipeline, "AHEAD_TOKENS", 8 * 1000)
    for helper, ahead in (("loads after the first row", 8), ("never loads", 8), ("loaded", 4)):
        generator = pipeline.make_generator(spec)
        slow = _LoadingTiktoken(generator.tokenizer)
        if helper == "loaded":
            slow.loaded.set()
        made = _count_samples(generator)
        generator.tokenizer = slow
        rows = []
        for row in pipeline.generate_rows(generator, cells, threads=2):
            rows.append(row)
            if len(rows) == 1:
                assert len(made) == ahead, helper
            if helper != "never loads":
                slow.loaded.set()
        assert rows == expected, helper


class _HelperTiktoken(_LoadingTiktoken):
    """A helper that measures on "another core" once loaded, 30 ms a text."""

    def helper_measures(self):
        return self.loaded.is_set()

    def measure_ids(self, text):
        time.sleep(0.03)
        return self.inner.measure_ids(text)


def test_the_build_thread_makes_samples_while_the_helper_works_through_its_backlog(tokenizer, monkeypatch):
    """Once the helper is ready it measures the samples made while it loaded; meanwhile the build
    thread makes samples whenever the oldest one's measurement is not back (never more than
    AHEAD_TOKENS of them ahead), not waiting for each; after the backlog it holds two per encoding
    thread again. The rows are those of a one-thread build."""
    from longsynth import pipeline
    from longsynth.spec import load_spec

    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=32)
    cells = pipeline.plan(spec)["niah_single_1"]
    expected = list(pipeline.generate_rows(pipeline.make_generator(spec), cells, threads=1))
    monkeypatch.setattr(pipeline, "AHEAD_TOKENS", 8 * 1000)
    generator = pipeline.make_generator(spec)
    helper = _HelperTiktoken(generator.tokenizer)
    made = _count_samples(generator)
    generator.tokenizer = helper
    rows, ahead = [], []
    for row in pipeline.generate_rows(generator, cells, threads=2):
        rows.append(row)
        ahead.append(len(made) - len(rows))  # samples made and not yet finished, this row aside
        helper.loaded.set()  # ready once the first row is out: 8 samples were made while it loaded
    assert rows == expected
    assert max(ahead) <= 8
    assert ahead[0] == 7  # the first eight made ahead while it loaded
    # the backlog's rows (2 to 8): the build thread made samples instead of waiting for each (one that
    # waits holds two per encoding thread by the fifth row: [7, 6, 6, 5, 4, 3, 3, ...])
    assert min(ahead[1:8]) >= 5, ahead
    assert max(ahead[20:28]) == 3 and ahead[-1] == 0, ahead  # then two per encoding thread


def test_a_build_freezes_the_objects_older_than_it_and_only_for_its_length(tmp_path, monkeypatch):
    """While a build runs, the objects alive before it are frozen (the cycle collector skips them);
    after it, nothing stays frozen, also when it fails; a caller's own freeze is left as it was."""
    import gc

    from longsynth import pipeline
    from longsynth.spec import load_spec

    spec = load_spec(None, tasks="niah_single_1", lengths="1k", samples=1)
    seen = []
    real = pipeline.make_generator
    monkeypatch.setattr(pipeline, "make_generator", lambda s: seen.append(gc.get_freeze_count()) or real(s))
    assert gc.get_freeze_count() == 0
    pipeline.build(spec, tmp_path / "one")
    assert seen[0] > 1000 and gc.get_freeze_count() == 0
    monkeypatch.setattr(pipeline, "_build", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        pipeline.build(spec, tmp_path / "two")
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a caller's freeze: kept, and nothing more frozen by the build
    try:
        frozen = gc.get_freeze_count()
        with pytest.raises(ZeroDivisionError):
            pipeline.build(spec, tmp_path / "three")
        assert gc.get_freeze_count() == frozen and seen[-1] == frozen
    finally:
        gc.unfreeze()
