from __future__ import annotations

import random

import numpy as np
import pytest

from longsynth import tokenizers as tk
from longsynth.errors import TokenizerError
from longsynth.tokenizers import get_tokenizer, pre_token_boundaries


@pytest.mark.parametrize(
    "name, ids",
    [("cl100k_base", [15339, 1917]), ("o200k_base", [24912, 2375])],
)
def test_encodings_load_offline_from_packaged_vocabulary(name, ids, tmp_path, monkeypatch):
    # An empty longsynth cache forces the rebuild from the packaged file; an empty
    # tiktoken cache and a broken download prove no network path was taken.
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    import tiktoken

    monkeypatch.setattr(tiktoken, "get_encoding", lambda n: (_ for _ in ()).throw(RuntimeError("no network")))
    enc = tk._load_tiktoken(name)
    assert enc.encode_ordinary("hello world") == ids
    assert (tmp_path / "cache" / "tiktoken" / f"{name}.tiktoken").exists()
    # A second load reads the verified cache file.
    assert tk._load_tiktoken(name).encode_ordinary("hello world") == ids


def test_loading_a_tokenizer_writes_nothing_outside_our_cache(tmp_path):
    """Cold (built from the packaged file) and warm (read from our cache), in fresh processes with
    tiktoken's own cache left at its default (`$TMPDIR/data-gym-cache`): nothing is written under
    TMPDIR, and a damaged cache file is refused by its hash and made again."""
    import os
    import subprocess
    import sys

    temp, cache = tmp_path / "tmp", tmp_path / "cache"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")}
    env.update(TMPDIR=str(temp), LONGSYNTH_CACHE=str(cache))
    script = "from longsynth.tokenizers import get_tokenizer; print(get_tokenizer('cl100k_base').count('hello world'))"
    cached = cache / "tiktoken" / "cl100k_base.tiktoken"
    for round in ("cold", "warm", "damaged"):
        if round == "damaged":
            whole = cached.read_bytes()
            damaged = whole.replace(b" 100\n", b" 101\n", 1)
            assert damaged != whole
            cached.write_bytes(damaged)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (round, done.stderr)
        assert done.stdout.strip() == "2", round
        assert sorted(p.name for p in temp.rglob("*")) == [], round
    assert tk._cached_ranks(cached, tk._ENCODINGS["cl100k_base"].sha256)[b"hello"] == 15339


@pytest.mark.parametrize("planted", ["link to a victim", "folder"])
def test_a_cached_vocabulary_planted_by_someone_else_is_rebuilt_and_touches_nothing(planted, tmp_path, monkeypatch):
    """Our cache's vocabulary file replaced by a link to another file, or by a folder: the tokenizer
    still loads (from the packaged file), and the linked file is neither read into the ranks nor
    written."""
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "tiktoken" / "cl100k_base.tiktoken"
    cached.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("aGVsbG8= 0\n")  # a valid-looking .tiktoken line: a rank of its own for "hello"
    if planted == "folder":
        cached.mkdir()
    else:
        cached.symlink_to(victim)
    assert tk._load_tiktoken("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert victim.read_text() == "aGVsbG8= 0\n"


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_pattern_and_special_tokens_match_tiktoken(name, monkeypatch):
    import tiktoken_ext.openai_public as public

    ours = tk.get_tokenizer(name)._enc
    monkeypatch.setattr(public, "load_tiktoken_bpe", lambda *a, **k: ours._mergeable_ranks)
    reference = getattr(public, name)()
    assert reference["pat_str"] == ours._pat_str
    assert reference["special_tokens"] == ours._special_tokens


def test_wrong_hash_is_refused(monkeypatch):
    facts = tk._ENCODINGS["cl100k_base"]
    broken = tk._EncodingFacts("0" * 64, facts.pattern, facts.special_tokens, facts.packaged_vocab)
    with pytest.raises(LookupError, match="does not match"):
        tk._packaged_tiktoken_file(broken)


def test_unknown_tokenizer_names_what_was_tried(tmp_path):
    with pytest.raises(TokenizerError, match="unknown tokenizer"):
        tk.get_tokenizer("gpt5_base")
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        tk.get_tokenizer(f"hf:{tmp_path}")


def test_hf_tokenizer_from_local_file(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "ünï": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    hf = tk.get_tokenizer(f"hf:{tmp_path}")
    assert hf.encode("hello world") == [1, 2]
    m = tk.measure(hf, "hello ünï world")
    assert m.length == 3 and m.tokens_before(6) == 1 and m.tokens_before(9) == 2


def test_char_ends_on_non_ascii_text(tokenizer):
    text = "Zoë naïvely ate crème brûlée — 日本語 too."
    ids = tokenizer.encode(text)
    ends = tokenizer.char_ends(text, ids)
    assert len(ends) == len(ids) and ends[-1] == len(text)
    for n in range(1, len(ids) + 1):
        # every prefix of whole tokens decodes to the text up to its recorded end
        decoded = tokenizer._enc.decode_bytes(ids[:n])
        if decoded.decode("utf-8", errors="strict") if _valid(decoded) else False:
            assert decoded.decode() == text[: ends[n - 1]]
    assert np.all(np.diff(ends) >= 0)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_char_ends_count_the_character_a_token_ends_in(name):
    """A token's recorded end is the end of the character holding its last byte, also where a
    byte-level token stops inside a character: the decoded prefix's length, its cut character
    decoded as one replacement character."""
    tokenizer = tk.get_tokenizer(name)
    edges = ["\x7f\x80\u07ff\u0800\uffff\U00010000\U0010ffff", "a\ud800b\udfff"]  # 1 to 4 bytes; lone surrogates
    for text in _adversarial_texts(200) + ["王伟是李娜的父亲。𝔘𝔫𝔦 naïve 🙂🙂🙂 ẞ", *edges]:
        ids = tokenizer.encode(text)
        ends = tokenizer.char_ends(text, ids).tolist()
        expected = [
            len(tokenizer._enc.decode_bytes(ids[:n]).decode("utf-8", "replace")) for n in range(1, len(ids) + 1)
        ]
        assert ends == expected, text


def _valid(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _adversarial_texts(count: int) -> list[str]:
    """Texts that stress a BPE: scripts, emoji sequences, combining marks, digit and space runs,
    special-token strings, CRLF, zero-width characters."""
    import random

    pieces = [" ", "  ", "\n", "\n\n", "\t", "\r\n", "'s", "'LL", "123", "4567", "Zebra", "über", "naïve",
              "日本語", "中文字符", "한국어", "русский", "العربية", "हिन्दी", "😀", "👨‍👩‍👧", "🇫🇷", "!!", "...",
              "—", "“quoted”", "def f(x):", "    return", "{}", "\\", "\u200b", "\u00a0", "x" * 50, "0" * 40,
              "ab" * 30, "\ufffd", "𝔘𝔫𝔦", "e\u0301", "ǅ", "ß", "İ", "<|endoftext|>", "<|fim_prefix|>"]  # fmt: skip
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(count)]
    texts += ["".join(chr(rng.choice([rng.randint(32, 0xD7FF), rng.randint(0xE000, 0x2FFFF)])) for _ in range(40))]
    return texts


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_fast_counts_equal_tiktoken_on_adversarial_text(name):
    tokenizer = tk.get_tokenizer(name)
    texts = _adversarial_texts(4000)
    expected = [len(tokenizer._enc.encode_ordinary(t)) for t in texts]
    assert tokenizer._quick_counts(texts) == expected
    assert tokenizer._quick is not None  # the fast path was really taken
    assert tokenizer.count_many(texts) == expected
    big = texts * 6  # past PARALLEL_COUNT: counted on every core
    assert len(big) >= tk.PARALLEL_COUNT and tokenizer.count_many(big) == expected * 6


def test_a_fast_count_that_disagrees_turns_the_fast_path_off(monkeypatch):
    import quicktok

    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    monkeypatch.setattr(quicktok, "count_batch", lambda enc, texts, threads=0: np.ones(len(texts), dtype=np.int64))
    times = max(tk.QUICK_FROM, tk.QUICK_FROM_CHARS // len("hello world, twice over") + 1)
    texts = ["hello world, twice over"] * times
    with pytest.warns(UserWarning, match="quicktok disagreed"):
        assert tokenizer.count_many(texts) == [len(tokenizer.encode(texts[0]))] * times
    assert tokenizer._quick is None and tokenizer._quick_off
    assert tokenizer.count_many(["two words"] * times) == [2] * times


def test_small_counts_do_not_load_the_fast_counter():
    """Loading quicktok costs 37 MiB: ten units, or 20,000 single words (cwe's vocabulary, 110,000
    characters), are counted by tiktoken."""
    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    assert tokenizer.count_many(["a few words"] * 10) == [3] * 10
    words = [" word"] * 20_000
    assert tokenizer.count_many(words) == [1] * 20_000
    assert tokenizer._quick is None and not tokenizer._quick_off


def test_counting_in_bulk_loads_the_fast_counter_for_small_batches(monkeypatch):
    """An index's new pieces come a few thousand short texts a batch, too few to load quicktok: the
    piece table says they come in bulk (`count_in_bulk`), and quicktok counts them (tiktoken took
    five times as long)."""
    import quicktok

    from longsynth.generators.nextlong import pieces

    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    pieces.PieceTable(tokenizer)
    assert tokenizer._quick is not None
    counted = []
    real = quicktok.count_batch
    monkeypatch.setattr(
        quicktok,
        "count_batch",
        lambda enc, texts, threads=0: counted.append(len(texts)) or real(enc, texts, threads=threads),
    )
    texts = [" word", " Word.", "Word\n"] * 100
    assert tokenizer.count_many(texts) == [len(tokenizer.encode(t)) for t in texts]
    assert counted == [300]


def _wait_ready(helper, seconds: float = 30.0) -> None:
    assert helper.ready(wait=seconds), "the quicktok helper did not load"


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("build_tokens", ["QUICK_MEASURE_FROM", "BATCH_IDS_FROM"])  # lists, then arrays
def test_samples_measured_by_quicktok_equal_tiktoken(name, build_tokens):
    """A build measures samples with quicktok in a helper process once it has loaded (`measure_ids`):
    the ids and the character offsets are tiktoken's, on adversarial text and on long texts, from
    the helper's list encoder and from its array encoder (a build of `BATCH_IDS_FROM` tokens)."""
    tokenizer = tk.TiktokenTokenizer(name)
    tokenizer.expect(tk.QUICK_MEASURE_FROM - 1)  # a small build: tiktoken measures, no process starts
    assert np.array_equal(tokenizer.measure_ids("tiktoken"), tokenizer.encode_array("tiktoken"))
    assert tokenizer._helper is None and tokenizer._measured == 0
    tokenizer.expect(getattr(tk, build_tokens))
    _wait_ready(tokenizer._helper)
    texts = _adversarial_texts(600) + [" ".join(_adversarial_texts(400))]
    for text in texts:
        fast, reference = tk.measure(tokenizer, text), tk.measure(tokenizer, text, reference=True)
        assert fast.length == reference.length and np.array_equal(fast.ids, reference.ids)
        assert np.array_equal(fast._char_ends, reference._char_ends)
    assert tokenizer._measured == len(texts) and not tokenizer._quick_off
    units = _adversarial_texts(1500)  # a haystack's batch: counted by the helper once it is ready
    assert tk.HELPER_COUNT_CHARS <= sum(map(len, units)) < tk.QUICK_FROM_CHARS
    asked = []
    count = tokenizer._helper.count
    tokenizer._helper.count = lambda texts: asked.append(len(texts)) or count(texts)
    assert tokenizer.count_many(units) == [len(tokenizer._enc.encode_ordinary(t)) for t in units]
    assert asked == [len(units)]
    assert tokenizer._quick is None  # quicktok never loaded in this process


def _ask_from_threads(helper, texts: list[str], count: int):
    """`count` threads asking the helper for the texts' ids at once (thread k: texts k, k + count, ...);
    returns the answers as they come ({text number: ids or None}) and the started threads."""
    import threading

    answers: dict[int, object] = {}

    def ask(numbers):
        for n in numbers:
            answers[n] = helper.encode(texts[n])

    threads = [threading.Thread(target=ask, args=(range(k, len(texts), count),)) for k in range(count)]
    for thread in threads:
        thread.start()
    return answers, threads


@pytest.mark.parametrize("batch_ids", [False, True])
def test_requests_from_many_threads_get_their_own_answers(batch_ids):
    """Requests are pipelined (each thread writes its request, then reads its answer in turn): six
    threads asking at once, with texts longer than a default pipe (64 KiB) and a refused one among
    them, each get their own text's ids, tiktoken's, from the helper's list or array encoder."""
    import fcntl

    from longsynth.quick_helper import QuickHelper

    reference = tk.TiktokenTokenizer("cl100k_base")
    helper = QuickHelper("cl100k_base", batch_ids=batch_ids)
    try:
        _wait_ready(helper)
        if hasattr(fcntl, "F_GETPIPE_SZ"):  # (Linux) both pipes widened, so a request goes in one write
            for pipe in (helper._process.stdin, helper._process.stdout):
                assert fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) >= 1 << 20
        rng = random.Random(5)
        pieces = _adversarial_texts(300) + ["长文本测试。" * 50, "emoji 🎉 " * 40]
        texts = ["".join(rng.choices(pieces, k=rng.randint(1, 400))) for _ in range(60)]
        texts[17] = "a lone surrogate \ud800"
        assert max(len(t.encode("utf-8", "surrogatepass")) for t in texts) > 1 << 16
        answers, threads = _ask_from_threads(helper, texts, 6)
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert answers.pop(17) is None and not helper._gone
        for n, ids in answers.items():
            assert np.array_equal(ids, reference.encode_array(texts[n])), n
    finally:
        helper.close()


def test_closing_the_helper_releases_every_thread_waiting_for_an_answer():
    """Closed while threads wait for their turn to read (a measurement quicktok disagreed on closes
    it): every thread returns, with its own ids or None, none waits for good."""
    import threading

    from longsynth.quick_helper import QuickHelper

    reference = tk.TiktokenTokenizer("cl100k_base")
    helper = QuickHelper("cl100k_base")
    _wait_ready(helper)
    texts = [f"text {n} " * 20_000 for n in range(24)]
    answers, threads = _ask_from_threads(helper, texts, 4)
    while not answers:
        threading.Event().wait(0.001)
    helper.close()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads) and len(answers) == len(texts)
    assert any(ids is None for ids in answers.values())
    for n, ids in answers.items():
        assert ids is None or np.array_equal(ids, reference.encode_array(texts[n]))


def test_a_large_build_asks_for_the_array_encoder(monkeypatch):
    """From `BATCH_IDS_FROM` tokens a build's helper encodes to arrays (it loads numpy to); a smaller
    one keeps quicktok's lists, which the helper can answer with sooner."""
    made = []
    monkeypatch.setattr(tk, "QuickHelper", lambda name, batch_ids=False: made.append(batch_ids) or None)
    for tokens in (tk.QUICK_MEASURE_FROM, tk.BATCH_IDS_FROM - 1, tk.BATCH_IDS_FROM):
        tk.TiktokenTokenizer("cl100k_base").expect(tokens)
    assert made == [False, False, True]


def test_the_helper_never_fails_a_measurement():
    """The helper answers None for a text it cannot take (a lone surrogate), and a helper that is gone
    (killed) leaves tiktoken to measure in this process; the helper's process ends when closed."""
    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    tokenizer.expect(tk.QUICK_MEASURE_FROM)
    helper = tokenizer._helper
    _wait_ready(helper)
    assert helper.encode("a lone surrogate \ud800 (the corpus door refuses them)") is None
    helper._process.kill()
    helper._process.wait()
    text = "measured after the helper died " * 50
    assert np.array_equal(tokenizer.measure_ids(text), tokenizer.encode_array(text))
    assert helper._gone and tokenizer._measured == 0
    helper.close()
    assert helper._process.poll() is not None


def test_a_helper_that_cannot_load_is_gone_not_loading():
    """quicktok cannot load the encoding (here: a name it does not know): the helper says so, and a
    build stops waiting for it (`Encoders` runs ahead only while it is loading)."""
    from longsynth.quick_helper import QuickHelper

    helper = QuickHelper("no_such_encoding")
    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    tokenizer._helper = helper
    try:
        assert helper.ready(wait=30) is False
        assert not helper.loading() and not tokenizer.helper_loading()
        assert helper.encode("text") is None
    finally:
        helper.close()
    loaded = tk.TiktokenTokenizer("cl100k_base")
    loaded.expect(tk.QUICK_MEASURE_FROM)
    _wait_ready(loaded._helper)
    assert not loaded.helper_loading()


def test_a_helper_that_cannot_start_leaves_tiktoken_measuring(monkeypatch):
    """No process could start (a sandbox without fork): tiktoken measures, no second try is made, and
    quicktok still counts big batches in this process."""
    tries = []

    def refuse(name, batch_ids=False):
        tries.append(name)
        raise OSError("no processes here")

    monkeypatch.setattr(tk, "QuickHelper", refuse)
    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    tokenizer.expect(tk.QUICK_MEASURE_FROM)
    tokenizer.expect(tk.QUICK_MEASURE_FROM)
    assert tries == ["cl100k_base"] and tokenizer._helper is None and not tokenizer._quick_off
    text = "measured by tiktoken " * 40
    assert np.array_equal(tokenizer.measure_ids(text), tokenizer.encode_array(text))


def test_a_measure_that_disagrees_turns_quicktok_off():
    class Wrong:
        closed = False

        def ready(self):
            return True

        def encode(self, text):
            return np.array([1, 2, 3], dtype=np.uint32)

        def close(self):
            self.closed = True

    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    tokenizer._helper = wrong = Wrong()
    with pytest.warns(UserWarning, match="quicktok disagreed"):
        ids = tokenizer.measure_ids("the first sample is checked against tiktoken")
    assert np.array_equal(ids, tokenizer.encode_array("the first sample is checked against tiktoken"))
    assert tokenizer._quick_off and wrong.closed
    assert tk.measure(tokenizer, "then tiktoken measures").length == 4


def test_validate_measures_with_tiktoken_itself(monkeypatch, tmp_path):
    """`longsynth validate` re-measures every row with the tokenizer's own library, never the fast path."""
    from longsynth.inspect import validate_directory
    from longsynth.pipeline import build
    from longsynth.spec import load_spec

    out = build(load_spec(None, tasks="niah_single_1", lengths="1k", samples=2), tmp_path / "ds")

    def refuse(self, text):
        raise AssertionError("validate used the fast path")

    monkeypatch.setattr(tk.TiktokenTokenizer, "measure_ids", refuse)
    assert validate_directory(out).problems == []


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_validate_counts_an_input_alone_from_the_prompts_encode_and_its_two_ends(name, monkeypatch):
    """`input_count` (what `validate` holds a row's length to) equals encoding the input alone, on
    random inputs inside random prompts, ends that run across the input's edges included; and it
    encodes only the input's ends where the rule finds cuts there (never the whole input)."""
    from longsynth.validators import EDGE_CHARS, input_count

    tokenizer = get_tokenizer(name)
    rng = random.Random(3)
    pieces = [" word", "Word", "x" * 30, "7" * 9, " ", "  ", "\n", "\n\n", ".", "?\n", "'s", "é", "-", ":", "\t"]
    encoded = []
    real_count = tokenizer.count
    monkeypatch.setattr(tokenizer, "count", lambda text: encoded.append(len(text)) or real_count(text))
    shortcuts = 0
    for _ in range(300):
        text = "".join(rng.choices(pieces, k=rng.randint(1, 900)))
        head, tail = ("".join(rng.choices(pieces, k=rng.randint(0, 6))) for _ in range(2))
        prompt = head + text + tail
        encoded.clear()
        counted = input_count(tokenizer, tk.measure(tokenizer, prompt, reference=True), prompt, text)
        assert counted == real_count(text), (head[-20:], text[:40], text[-40:], tail[:20])
        if len(encoded) == 2:
            shortcuts += 1
            assert max(encoded) < EDGE_CHARS < len(text)
    assert shortcuts > 100


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_token_byte_lengths_from_the_rank_table_equal_decoding_each_token(name):
    """The fast path (the encoding's rank table) gives every id the byte length that decoding that
    token gives, specials included (char_ends rests on these lengths)."""
    tokenizer = tk.get_tokenizer(name)
    fast = tokenizer._token_byte_lengths()
    enc = tokenizer._enc
    slow = np.zeros(enc.n_vocab, dtype=np.int64)
    for token in range(enc.n_vocab):
        try:
            slow[token] = len(enc.decode_single_token_bytes(token))
        except KeyError:
            pass
    assert np.array_equal(fast, slow)


def test_pool_counts_are_cached_per_text_list(tmp_path, monkeypatch):
    """A built-in pool is counted once per machine (`cache.cached_counts`): the second build reads the
    counts back; lists that join to the same text ("a\\nb" against "a", "b") never share an entry; a
    damaged entry is counted again."""
    from longsynth import cache

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path))
    tokenizer = tk.get_tokenizer("cl100k_base")
    calls = []

    def count(texts):
        calls.append(list(texts))
        return tokenizer.count_many(texts)

    first = cache.cached_counts("pool", "cl100k_base", ["a\nb", "c"], count)
    assert first == tokenizer.count_many(["a\nb", "c"]) and len(calls) == 1
    assert cache.cached_counts("pool", "cl100k_base", ["a\nb", "c"], count) == first and len(calls) == 1
    assert cache.cached_counts("pool", "cl100k_base", ["a", "b\nc"], count) == tokenizer.count_many(["a", "b\nc"])
    assert len(calls) == 2
    for entry in (tmp_path / "json").glob("pool-*.json"):
        entry.write_bytes(b"[1]")  # the wrong length
    assert cache.cached_counts("pool", "cl100k_base", ["a\nb", "c"], count) == first and len(calls) == 3


def test_a_build_starts_fast_measuring_before_it_makes_its_generator(monkeypatch, tmp_path):
    """A one-process build starts the tokenizer's quicktok helper first, told the build's tokens, so it
    loads while the generator is made; a build given its generator, or one of several workers,
    leaves that to where rows are made."""
    from longsynth import pipeline
    from longsynth.spec import load_spec

    events = []
    expect, make = tk.TiktokenTokenizer.expect, pipeline.make_generator
    monkeypatch.setattr(tk.TiktokenTokenizer, "expect", lambda self, n: events.append(("expect", n)) or expect(self, n))
    monkeypatch.setattr(pipeline, "make_generator", lambda spec: events.append(("make", 0)) or make(spec))
    spec = load_spec(None, tasks="niah_single_1", lengths="1k,2k", depths="0,100", samples=2)
    pipeline.build(spec, tmp_path / "a")
    assert events[:2] == [("expect", 2 * 2 * (1024 + 2048)), ("make", 0)]
    events.clear()
    pipeline.build(spec, tmp_path / "b", generator=pipeline.make_generator(spec))
    assert events[0] == ("make", 0) and events[1][0] == "expect"  # only where rows are made


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_joins_called_pre_token_boundaries_never_change_a_count(name):
    """Random texts of the characters the boundary rule is about: wherever it calls every join a
    boundary, the joined text's count is the sum of the texts' own, and the batch counted joined
    gives each text its own count."""
    tokenizer = get_tokenizer(name)
    rng = random.Random(7)
    alphabet = "aZqxe019  -.:'/$,\n\té"
    trusted = 0
    for _ in range(20_000):
        left, right = ("".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(2))
        if pre_token_boundaries([left, right]):
            trusted += 1
            assert tokenizer.count(left + right) == tokenizer.count(left) + tokenizer.count(right), (left, right)
    assert trusted > 2_000  # the rule does call many joins boundaries
    # Many joins judged at once, with non-ASCII characters among them: each pair on its own two
    # characters (an é elsewhere once made every pair of the call untrusted).
    pairs = [tuple("".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(2)) for _ in range(5_000)]
    cuts = tk.pre_token_cuts("".join(a[-1] for a, _ in pairs), "".join(b[0] for _, b in pairs))
    assert "é" in "".join(a[-1] + b[0] for a, b in pairs) and cuts.sum() > 500
    for (left, right), cut in zip(pairs, cuts, strict=True):
        if cut:
            assert tokenizer.count(left + right) == tokenizer.count(left) + tokenizer.count(right), (left, right)
    words = ["".join(rng.choices("abcxyz", k=rng.randint(1, 9))) for _ in range(300)]
    batch = [rng.choice([" ", "-", ":", "", "7"]) + w + rng.choice(["", "9", "."]) for w in words]
    kept = [batch[0]]
    for text in batch[1:]:
        if pre_token_boundaries([kept[-1], text]):
            kept.append(text)
    assert len(kept) > 100 and pre_token_boundaries(kept)
    assert tokenizer._joined_counts(kept) == [tokenizer.count(t) for t in kept]


def test_pre_token_boundaries_refuse_joins_the_pre_tokenizer_runs_across():
    assert pre_token_boundaries([" abc", " def", ":", " 12", "x"])
    refused = [("ab", "cd"), ("ab", "'s"), (":", "ab"), ("ab ", "cd"), ("12", "34"), ("a.", ".b"), ("x\n", "y")]
    for left, right in refused:
        assert not pre_token_boundaries([left, right]), (left, right)
    assert not pre_token_boundaries(["café", " au"]) and not pre_token_boundaries(["a", ""])


def test_word_lists_are_counted_joined_with_each_words_own_count():
    tokenizer = tk.TiktokenTokenizer("cl100k_base")  # a fresh one: quicktok not loaded in this process
    rng = random.Random(3)
    words = [" ..."] + [" " + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(649)]
    calls = []
    real = tokenizer._joined_counts
    tokenizer._joined_counts = lambda texts: calls.append(len(texts)) or real(texts)
    try:
        counts = tokenizer.count_many(words)
    finally:
        del tokenizer._joined_counts
    assert calls == [650]
    assert counts == [tokenizer.count(w) for w in words]


def test_a_blank_run_is_found_exactly_where_the_text_holds_one():
    """`holds_blank_run` looks at every thousandth character before the runs of the text: it finds
    exactly the runs of the limit that the text holds, whatever their length near the limit, where
    they start against the stride, and whichever whitespace characters they mix."""
    import re

    limit = tk.BLANK_RUN_LIMIT

    def longest_run(text: str) -> int:
        return max((len(run) for run in re.findall(r"\s+", text)), default=0)

    rng = random.Random(9)
    blanks = [" ", "\n", "\t", "\r", "\u3000", "\x0b", "\x1c", "\u00a0"]
    texts = ["", "word " * (limit // 5 + 10), " " * (limit - 1), " " * limit]
    for length in (limit - 1, limit, limit + 1, limit + 999, limit + 1000):
        for start in (0, 1, 999, 1000, 1001, 54_321):
            run = "".join(rng.choice(blanks) for _ in range(length)) if start % 2 else " " * length
            texts.append("x" * start + run + "y" * rng.choice([0, 1, 5_000]))
    # two runs just under the limit, a letter apart: no run of the limit
    texts.append("a" + " " * (limit - 1) + "b" + "\n" * (limit - 1) + "c")
    for text in texts:
        assert tk.holds_blank_run(text) == (longest_run(text) >= limit), (len(text), text[:20])
    assert sum(tk.holds_blank_run(t) for t in texts) >= 20


def test_a_run_just_short_of_the_limit_is_looked_at_in_linear_time():
    """Two runs of 99,999 blanks: the regex `\\s{100000}` over the text took 17 s (it tries the run
    from every place in it); the look must end in a few seconds at most, in a process of its own."""
    import subprocess
    import sys

    script = (
        "from longsynth import tokenizers as tk\n"
        "n = tk.BLANK_RUN_LIMIT - 1\n"
        "text = 'a' + ' ' * n + 'b' + '\\n' * n + 'c' + ' ' * n + 'd' * 5000\n"
        "assert not tk.holds_blank_run(text)\n"
        "assert tk.holds_blank_run(text.replace('b', ' ', 1))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=8)


def test_a_sample_with_a_blank_run_is_refused_even_where_quicktok_would_measure_it():
    """quicktok encodes a million spaces in a row, but tiktoken (which validates every row, and which
    users read the rows with) cannot: `measure_ids` refuses such a text before the helper sees it,
    with the error a build takes as a failed draw."""
    from longsynth.errors import BlankRunError

    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    tokenizer.expect(tk.QUICK_MEASURE_FROM)
    try:
        _wait_ready(tokenizer._helper)
        text = "start" + " " * (tk.BLANK_RUN_LIMIT + 5) + "end"
        assert tokenizer._helper.encode(text) is not None  # (the helper alone would have measured it)
        with pytest.raises(BlankRunError, match="whitespace characters in a row"):
            tokenizer.measure_ids(text)
        with pytest.raises(BlankRunError):
            tk.measure(tokenizer, text, reference=True)
        under = "start" + " " * (tk.BLANK_RUN_LIMIT - 1) + "end"
        assert len(tokenizer.measure_ids(under)) == len(tokenizer.encode(under))
    finally:
        tokenizer._helper.close()


def test_a_blank_run_tiktoken_would_crash_on_is_one_clear_error():
    """tiktoken's pre-tokenizer overflows its stack near a million spaces in a row and raised a Rust
    panic (no Exception: a traceback); such a text is refused by every way of encoding it, and a run
    just under the limit is encoded as before."""
    from longsynth.errors import TokenizerError
    from longsynth.tokenizers import BLANK_RUN_LIMIT

    tokenizer = get_tokenizer("cl100k_base")
    long_run = "start" + " " * 1_000_000 + "end"
    for encode in (tokenizer.count, tokenizer.encode, tokenizer.encode_array, lambda t: tokenizer.count_many([t])):
        with pytest.raises(TokenizerError, match="1,000,000 whitespace characters in a row"):
            encode(long_run)
    under = "a" + "\n" * (BLANK_RUN_LIMIT - 1) + "b"
    assert tokenizer.count(under) == len(tokenizer.encode(under)) > 1_000


def test_short_counts_are_remembered_within_a_bound(monkeypatch):
    """`count` remembers short texts' counts (a build counts the same joints and template halves again
    and again): the same numbers as tiktoken's, at most COUNT_MEMO kept, long texts never kept (a
    text tiktoken refuses, a blank run, is far longer than any kept)."""
    monkeypatch.setattr(tk, "COUNT_MEMO", 50)
    tokenizer = tk.TiktokenTokenizer("cl100k_base")
    texts = _adversarial_texts(400) + ["x" * 300, " \n", " \n"]
    for text in texts:
        assert tokenizer.count(text) == len(tokenizer._enc.encode_ordinary(text))
        assert len(tokenizer._counts) <= 50
    assert "x" * 300 not in tokenizer._counts and " \n" in tokenizer._counts
    for text in texts[::-1]:  # (counted again, from the memo or not)
        assert tokenizer.count(text) == len(tokenizer._enc.encode_ordinary(text))
    assert tk.BLANK_RUN_LIMIT > tk.COUNT_MEMO_CHARS
