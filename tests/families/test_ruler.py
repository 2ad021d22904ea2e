"""RULER's vt, cwe, fwe, qa_1 and qa_2: each answer re-derived here from the text with our own
parsing (not the family's oracle), RULER's settings checked in the text, the metrics, user QA data,
and the `ruler` suite."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.inspect import validate_directory
from longsynth.pipeline import build
from longsynth.scoring import anchor_score, score
from longsynth.spec import load_spec


def _rows(out: Path, task: str | None = None) -> list[dict]:
    rows = pl.read_parquet(sorted(out.glob("*/*.parquet"))).to_dicts()
    return [r for r in rows if task is None or r["task"] == task]


@pytest.fixture(scope="module")
def ruler_build(tmp_path_factory):
    spec = load_spec(
        None,
        generator="ruler",
        tasks="vt,cwe,fwe,qa_1,qa_2",
        lengths="2k,8k",
        depths="0,50,100",
        samples=2,
    )
    out = build(spec, tmp_path_factory.mktemp("ruler") / "ds")
    return spec, out


def test_builds_and_validates_with_ruler_reply_budgets(ruler_build):
    _, out = ruler_build
    assert validate_directory(out).problems == []
    reserves = {r["task"]: r["reserve"] for r in _rows(out)}
    assert reserves == {"vt": 30, "cwe": 120, "fwe": 50, "qa_1": 32, "qa_2": 32}  # RULER's tokens_to_generate
    counts = collections.Counter(r["task"] for r in _rows(out))
    # vt, cwe and fwe place their items themselves: one cell per length; qa sits on the depth grid
    assert counts == {"vt": 4, "cwe": 4, "fwe": 4, "qa_1": 12, "qa_2": 12}


def test_vt_chain_followed_in_the_text(ruler_build):
    _, out = ruler_build
    statement = re.compile(r"VAR ([A-Z]{5}) = (VAR [A-Z]{5}|\d{5})\.")
    for row in _rows(out, "vt"):
        value = re.search(r"value (\d{5})", row["question"]).group(1)
        example_end = row["input"].index("Now the text:")  # the solved example comes first
        held: list[str] = []
        for name, source in statement.findall(row["input"][example_end:]):
            if source == value or source.removeprefix("VAR ") in held:
                held.append(name)
        assert held == row["answers"] and len(held) == 5  # RULER: 1 chain, 4 hops
        assert row["input"][:example_end].count("VAR ") == 2 * 5 - 1  # one solved example, its own chain
        depths = row["depths"][:5]
        assert depths == sorted(depths)  # the chain reads in order


def test_vt_chains_and_hops_are_options(tmp_path):
    spec = load_spec(None, generator="ruler", tasks="vt", lengths="4k", samples=2, num_chains=3, num_hops=2, shots=0)
    out = build(spec, tmp_path / "ds")
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        assert len(meta["chains"]) == 3 and len(row["answers"]) == 3 and meta["shots"] == 0
        assert row["input"].count("VAR ") == 3 * 3 + 2 * 3  # 3 chains of 3 statements, 2 of them copies
        assert "For example" not in row["input"]


def _numbered_lists(text: str) -> list[list[str]]:
    lists = []
    for line in text.split("\n"):
        entries = re.findall(r"(\d+)\. ([a-z]+)", line)
        if entries and [int(n) for n, _ in entries] == list(range(1, len(entries) + 1)):
            lists.append([w for _, w in entries])
    return lists


def test_cwe_counts_in_the_text_follow_ruler(ruler_build):
    _, out = ruler_build
    for row in _rows(out, "cwe"):
        lists = _numbered_lists(row["input"])
        example, main = lists[0], lists[-1]  # RULER's one solved example, then the list asked about
        counts = collections.Counter(main)
        top = counts.most_common()
        common, other = (30, 3) if row["target_length"] >= 4096 else (6, 1)  # RULER lowers both below 4096
        assert sorted(w for w, _ in top[:10]) == sorted(row["answers"])
        assert all(common - 1 <= c <= common for _, c in top[:10])  # the list's end may cut one
        assert top[10][1] <= other
        example_counts = collections.Counter(example).most_common()
        assert example_counts[0][1] == (10 if row["target_length"] >= 4096 else 3)
        assert len(main) > 4 * len(example)


def test_cwe_words_are_real_words_until_they_run_out():
    from longsynth.generators.ruler.words import common_word_vocabulary, real_words

    real = real_words()
    assert len(real) == len(set(real)) > 8000 and all(re.fullmatch(r"[a-z]+", w) for w in real)
    more = common_word_vocabulary(len(real) + 500)
    assert more[: len(real)] == real and len(set(more)) == len(more) == len(real) + 500
    assert all(re.fullmatch(r"([bdfgklmnprstvz][aeiou]){3}", w) for w in more[len(real) :])


def test_cwe_lists_draw_real_words_first(tmp_path):
    from longsynth.generators.ruler.words import real_words

    out = build(load_spec(None, generator="ruler", tasks="cwe", lengths="16k", samples=1), tmp_path / "ds")
    (row,) = _rows(out)
    words = set(_numbered_lists(row["input"])[-1])
    # a 16K list holds about 900 distinct words (each other word 3 times, an entry 4-5 tokens): all real
    assert len(words) > 800 and words <= set(real_words())


def test_fwe_follows_a_zipf_distribution(ruler_build):
    _, out = ruler_build
    for row in _rows(out, "fwe"):
        line = max(row["input"].split("\n"), key=len)
        counts = collections.Counter(line.split())
        ranked = [c for w, c in counts.most_common() if w != "..."]
        assert counts.most_common(1)[0][0] == "..."  # rank 1 is noise, as in RULER
        assert {w for w, _ in counts.most_common(4)} - {"..."} == set(row["answers"])
        assert ranked[2] > ranked[3]  # no tie for third place
        # alpha 2: rank k appears about N / k^2 / zeta(2) times, so rank 2 over rank 3 is about 9/4
        assert 1.9 < ranked[0] / ranked[1] < 2.6
        assert all(re.fullmatch(r"[a-z]{6}", w) for w in counts if w != "...")


def test_word_counts_are_exactly_a_split_and_counter():
    """The oracle's fast count gives `Counter(text.split())`: the same counts in the same order (ties
    in the top words are ranked by first appearance), on lists it counts in numpy and on every text
    it must leave to split (other whitespace, runs of spaces, long or non-ASCII words)."""
    import random

    from longsynth.generators.ruler.words import coded_words, word_counts

    rng = random.Random(7)
    vocabulary = ["...", *coded_words(rng, 300, 6), "ab", "abcdefgh", "a"]
    texts = [" ".join(rng.choices(vocabulary, weights=range(len(vocabulary), 0, -1), k=5000)) for _ in range(5)]
    # words sharing their first bytes, at every length the numpy path takes (1 to 8)
    texts.append(" ".join(rng.choice(["a", "aa", "aaa", "aaaaaaa", "aaaaaaaa", "ab", "b"]) for _ in range(2000)))
    for _ in range(3000):
        alphabet = rng.choice(["ab .", "ab\t\n .", "ab  ", "aé b", "abcdefghi "])
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))))
    texts += ["", " ", "abcdefghi", "a\u00a0b a", "a\x1fb a"]
    for text in texts:
        assert list(word_counts(text).items()) == list(collections.Counter(text.split()).items()), text


def test_qa_gold_documents_at_the_cell_depth(ruler_build):
    _, out = ruler_build
    for row in _rows(out, "qa_1") + _rows(out, "qa_2"):
        meta = json.loads(row["metadata"])
        # RULER's format: "Document k:", a line break, the paragraph; a blank line between documents.
        docs = re.findall(
            r"Document (\d+):\n(.*?)(?=\n\nDocument \d+:\n|\n\nUse the documents above)", row["input"], re.S
        )
        assert [int(n) for n, _ in docs] == list(range(1, len(docs) + 1)) and len(docs) > 10
        assert "Document 1: " not in row["input"]
        gold = [row["input"][g["char_offset"] : g["char_end"]].split(":\n", 1)[1] for g in meta["gold"]]
        texts = [t for _, t in docs]
        assert all(texts.count(g) == 1 for g in gold)
        assert any(a in g for a in row["answers"] for g in gold)
        assert len(gold) == (1 if row["task"] == "qa_1" else 2)
        limit = max(1.0, 100.0 * 60 / row["length"])  # one document either way
        requested = float(row["id"].split("-d")[1].split("-")[0])
        assert abs(row["depths"][0] - requested) <= limit
    two_hop = _rows(out, "qa_2")[0]
    assert "founder of" in two_hop["question"] or "who founded" in two_hop["question"]


def test_builtin_qa_pool_is_large_varied_and_not_reused(tmp_path):
    """Thousands of towns, five facts each, in several frames and two question forms; a build draws
    questions without replacement within a cell, and lengths draw independently."""
    from longsynth.generators.ruler.qa_data import TOWN_FRAMES, builtin_set

    qa = builtin_set("cl100k_base", 4096, 1)
    assert len(qa.questions) == 5 * 4096 and len({q.text for q in qa.questions}) == len(qa.questions)
    assert len(TOWN_FRAMES) >= 4
    openings = {p.split(" ", 1)[0] for p in qa.paragraphs[0::2]}
    assert {"Founded", "The", "In"} <= openings
    spec = load_spec(None, generator="ruler", tasks="qa_1,qa_2", lengths="2k,4k", depths="50", samples=40)
    rows = _rows(build(spec, tmp_path / "ds"))
    for task in ("qa_1", "qa_2"):
        for length in (2048, 4096):
            pairs = [
                (r["question"], tuple(r["answers"])) for r in rows if (r["task"], r["target_length"]) == (task, length)
            ]
            assert len(pairs) == 40 and len(set(pairs)) == 40  # no question asked twice at a length
    for row in rows:
        meta = json.loads(row["metadata"])
        assert row["answers"][0] in meta["placed"] and len(meta["placed"]) > 5  # other documents' values of its kind
        assert row["input"].count(meta["subject"]) == 2  # its gold document and the question


@pytest.mark.parametrize("hops", [1, 2])
def test_the_builtin_qa_set_read_from_the_cache_equals_a_fresh_one(tmp_path, monkeypatch, hops):
    """The built-in set is drawn once per machine and read back after that: paragraphs, counts,
    questions and each paragraph's facts equal a freshly drawn set; a damaged entry is drawn again."""
    from longsynth.generators.ruler import qa_data

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path))
    qa_data.builtin_set.cache_clear()
    fresh = qa_data._make_builtin_set("cl100k_base", 300, hops)
    for _ in range(2):  # made and stored, then read back
        qa_data.builtin_set.cache_clear()
        cached = qa_data.builtin_set("cl100k_base", 300, hops)
        assert cached.paragraphs == fresh.paragraphs and cached.tokens.tolist() == fresh.tokens.tolist()
        assert cached.questions == fresh.questions and cached.facts == fresh.facts
        assert cached.questions_per_entity == fresh.questions_per_entity
    (entry,) = (tmp_path / "json").glob("qa-builtin-*.json")
    entry.write_bytes(b'{"paragraphs": ["x"], "facts": [], "tokens": [], "questions": [], "per_entity": 1}')
    qa_data.builtin_set.cache_clear()
    assert qa_data.builtin_set("cl100k_base", 300, hops).questions == fresh.questions
    qa_data.builtin_set.cache_clear()


def test_qa_distractor_of_the_answers_kind_costs(ruler_build):
    _, out = ruler_build
    for row in _rows(out, "qa_1") + _rows(out, "qa_2"):
        meta = json.loads(row["metadata"])
        other = next(v for v in meta["placed"] if v != row["answers"][0])
        assert score(row, row["answers"][0]) == 1.0
        assert score(row, f"It is {row['answers'][0]}.") == 1.0
        assert score(row, f"{row['answers'][0]} or {other}") == 0.0  # hedging between two of its kind
        assert score(row, ", ".join(meta["placed"])) == 0.0  # every value of its kind


def test_metrics_score_gold_and_not_an_echo(ruler_build):
    _, out = ruler_build
    for row in _rows(out):
        natural = "They are: " + ", ".join(row["answers"]) + "."
        assert score(row, natural) == 1.0, row["id"]
        assert score(row, row["input"]) <= 0.1, row["id"]  # echoing the context does not score
        assert score(row, "I do not know.") == 0.0
    row = _rows(out, "cwe")[0]
    # Half the words: F1 of precision 1 and recall 1/2 (RULER's string_match_all, the anchor, gives 0.5);
    # naming every word of the list costs precision.
    assert score(row, ", ".join(row["answers"][:5])) == pytest.approx(2 / 3)
    assert anchor_score(row, ", ".join(row["answers"][:5])) == 0.5
    from longsynth.generators.ruler import RulerGenerator

    others = [w for w in RulerGenerator.placed_items(row) if w not in row["answers"]]  # the list's other words
    assert score(row, ", ".join([*row["answers"], *others[:30]])) < 0.5
    qa = _rows(out, "qa_1")[0]
    assert score(qa, f"The answer is {qa['answers'][0]}") == 1.0  # string_match_part


def test_user_squad_puts_the_same_article_first(tmp_path):
    """RULER's SQuAD distractors start with the other paragraphs of the question's article."""
    squad = [
        {
            "title": f"Article{a}",
            "context": f"Paragraph {p} of article {a} says that the keeper of gate {a}-{p} is Warden{a}x{p}.",
            "question": f"Who keeps gate {a}-{p}?",
            "answers": {"text": [f"Warden{a}x{p}"]},
        }
        for a in range(200)
        for p in range(5)
    ]
    spec = load_spec(
        None, generator="ruler", tasks="qa_1", lengths="2k,16k", depths="0,50,100", samples=4,
        qa_data=str(_write_jsonl(tmp_path / "squad.jsonl", squad)),
    )  # fmt: skip
    for row in _rows(build(spec, tmp_path / "ds")):
        article = re.search(r"gate (\d+)-", row["question"]).group(1)
        same = re.findall(rf"Paragraph \d of article {article} says", row["input"])
        assert len(same) == 5  # the gold and all four others of its article
        assert len(re.findall(r"Paragraph \d of article \d+ says", row["input"])) > 10  # then random ones


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_user_squad_and_hotpot_sets(tmp_path):
    squad = [
        {
            "context": f"The river Alna{i} flows through the valley of Tesk{i} before it meets the sea at Varo{i}.",
            "question": f"Where does the river Alna{i} meet the sea?",
            "answers": {"text": [f"Varo{i}"], "answer_start": [0]},
        }
        for i in range(200)
    ] + [{"context": "Nothing here.", "question": "Unanswerable?", "answers": {"text": []}}]
    squad_file = _write_jsonl(tmp_path / "squad.jsonl", squad)
    hotpot = [
        {
            "question": f"Which city is the home of the club that Pela{i} played for?",
            "answer": f"Ormsby{i}",
            "context": {
                "title": [f"Pela{i}", f"Club{i}", f"Other{i}"],
                "sentences": [[f"Pela{i} played for Club{i}."], [f"Club{i} is based in Ormsby{i}."], ["Unrelated."]],
            },
            "supporting_facts": {"title": [f"Pela{i}", f"Club{i}"], "sent_id": [0, 0]},
        }
        for i in range(80)
    ]
    folder = tmp_path / "hotpot"
    folder.mkdir()
    pl.DataFrame(hotpot).write_parquet(folder / "dev.parquet")  # the Hub's shape
    original = [  # HotpotQA's own json shape: [title, sentences] pairs
        {
            "question": "Are both clubs old?",
            "answer": "yes",
            "context": [["A", ["A is old."]], ["B", ["B is old."]]],
            "supporting_facts": [["A", 0], ["B", 0]],
        },
        {
            "question": "Which city is the home of the club that Pela99 played for?",
            "answer": "Ormsby99",
            "context": [["Pela99", ["Pela99 played for Club99."]], ["Club99", ["Club99 is based in Ormsby99."]]],
            "supporting_facts": [["Pela99", 0], ["Club99", 0]],
        },
    ]
    _write_jsonl(folder / "more.jsonl", original)
    out = build(
        load_spec(None, generator="ruler", tasks="qa_1", lengths="2k", depths="50", samples=3, qa_data=str(squad_file)),
        tmp_path / "squad",
    )
    assert validate_directory(out).problems == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator_stats"] == {"qa_questions_skipped": {"qa_1": 1}}  # the unanswerable one
    for row in _rows(out):
        assert re.fullmatch(r"Varo\d+", row["answers"][0])
        assert row["question"].startswith("Where does the river")
    out = build(
        load_spec(
            None,
            generator="ruler",
            tasks="qa_2",
            lengths="2k",
            depths="50",
            samples=3,
            qa_data=str(folder),
        ),
        tmp_path / "hotpot-build",
    )
    assert validate_directory(out).problems == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator_stats"] == {"qa_questions_skipped": {"qa_2": 1}}  # the yes/no one
    hub = tmp_path / "hub"  # a local dataset folder read through `datasets`, as hf:<id> is
    (hub / "data").mkdir(parents=True)
    pl.DataFrame(hotpot).write_parquet(hub / "data" / "validation-00000-of-00001.parquet")
    spec = load_spec(None, generator="ruler", tasks="qa_2", lengths="2k", depths="50", samples=2, qa_data=f"hf:{hub}")
    hub_rows = _rows(build(spec, tmp_path / "hub-build"))
    assert len(hub_rows) == 2 and all(re.fullmatch(r"Ormsby\d+", r["answers"][0]) for r in hub_rows)
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        gold = [row["input"][g["char_offset"] : g["char_end"]] for g in meta["gold"]]
        n = row["answers"][0].removeprefix("Ormsby")
        assert gold[0].endswith(f"Pela{n}\nPela{n} played for Club{n}.")  # RULER: the title on its own line
        assert gold[1].endswith(f"Club{n}\nClub{n} is based in Ormsby{n}.")
        assert f":\nOther{n}\nUnrelated." in row["input"]  # the question's own other paragraph, as RULER keeps
        assert row["answers"] != ["yes"]  # a yes/no answer is in no paragraph: not asked


def test_bad_qa_data_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"\n', encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["build", "--generator", "ruler", "--task", "qa_1", "--set", f"qa_data={bad}", "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and result.output.startswith("error:") and "not valid JSON" in result.output
    result = runner.invoke(
        cli,
        [
            "build",
            "--generator",
            "ruler",
            "--task",
            "qa_1",
            "--set",
            "qa_data=/nonexistent.jsonl",
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_the_ruler_suite_builds_13_configs(tmp_path):
    runner = CliRunner()
    out = tmp_path / "suite"
    result = runner.invoke(cli, ["build", "--suite", "ruler", "--lengths", "4k", "--samples", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    configs = sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(configs) == 13 and {"vt", "cwe", "fwe", "qa_1", "qa_2", "niah_multiquery"} <= set(configs)
    assert validate_directory(out).problems == []
    card = (out / "README.md").read_text()
    assert "config_name: qa_2" in card
    result = runner.invoke(cli, ["build", "--suite", "nope", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown suite 'nope'" in result.output


def test_a_user_suite_file(tmp_path):
    suite = tmp_path / "mine.yaml"
    suite.write_text("description: two tasks\ngenerator: ruler\ntasks: [vt, fwe]\nlengths: [2048]\nsamples: 1\n")
    out = tmp_path / "mine"
    result = CliRunner().invoke(cli, ["build", "--suite", str(suite), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(r["task"] for r in _rows(out)) == ["fwe", "vt"]


def test_ruler_strict_closes_the_by_design_shortcuts(tmp_path):
    """The ruler-strict suite: distractor needles and 10 interleaved vt chains. Its audit flags nothing and
    no longer needs RULER's by-design declarations, while a `--suite ruler` build declares them."""
    from longsynth.eval.audit import audit, flagged
    from longsynth.suites import load_suite

    fields = load_suite("ruler-strict")
    spec = load_spec(None, **{**fields, "lengths": "4k", "depths": "0,50,100", "samples": 2})
    assert spec.task_options["vt"] == {"num_chains": 10} and spec.task_options["niah_multiquery"] == {"num_keys": 64}
    out = build(spec, tmp_path / "strict")
    assert validate_directory(out).problems == []
    result = audit(out)
    assert flagged(result) == []
    by_design = [
        (t, b) for t, found in result.items() for b, cell in found.items() if "by design of RULER" in cell["reason"]
    ]
    assert by_design == []
    for row in _rows(out, "vt"):
        meta = json.loads(row["metadata"])
        assert len(meta["chains"]) == 10
        # Chains interleave: reading order of the statements switches between chains many times.
        positions = sorted(
            (row["input"].index(f"VAR {name} ="), c) for c, chain in enumerate(meta["chains"]) for name in chain
        )
        switches = sum(1 for (_, a), (_, b) in zip(positions, positions[1:], strict=False) if a != b)
        assert switches > 10
    plain = build(
        load_spec(None, generator="ruler", tasks="vt,niah_single_1", lengths="4k", depths="50", samples=2),
        tmp_path / "plain",
    )
    reasons = {b: cell["reason"] for b, cell in audit(plain)["niah_single_1"].items()}
    assert "by design of RULER" in reasons["every candidate"]


def test_cwe_vocabulary_covers_every_length_of_the_spec():
    """The vocabulary is sized by each length's own repeat count (3 from 4K on, 1 below): every length
    gets the distinct words its list can hold, and a 32K list no longer makes made-up words it cannot
    reach (only the real ones)."""
    from longsynth.generators.ruler.common_words import frequencies, vocabulary_size
    from longsynth.generators.ruler.options import RulerOptions
    from longsynth.generators.ruler.words import real_words

    options = RulerOptions()
    for length in (1024, 4095, 4096, 32768, 131072, 1048576):
        _, other_times = frequencies(options, length)
        assert vocabulary_size(length, options) >= length // (2 * other_times) + options.num_cw
    assert vocabulary_size(32768, options) == len(real_words())
    assert vocabulary_size(131072, options) == 131072 // 6 + options.num_cw
