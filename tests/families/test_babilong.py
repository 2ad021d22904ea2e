"""babilong: bAbI's qa1-qa5 in a haystack. The done-when grid builds and validates; qa1's answers are
re-derived here with our own reading of the text; supporting facts sit where the depth grid puts them;
the validator rejects each planted defect (a wrong answer, a supporting fact cut out, a distractor
that changes the state); the world keeps bAbI's semantics; scoring is the shared policy's."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.generators.babilong import world
from longsynth.generators.babilong.metrics import babilong_compare
from longsynth.generators.babilong.oracle import (
    answer_from_facts,
    state_changing_distractor,
    supporting_facts,
)
from longsynth.generators.babilong.wording import read_facts
from longsynth.inspect import validate_directory
from longsynth.metadata_json import decode_metadata
from longsynth.pipeline import build, make_generator
from longsynth.scoring import score
from longsynth.spec import load_spec
from longsynth.tokenizers import get_tokenizer

TASKS = "qa1,qa2,qa3,qa4,qa5"


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The issue's grid (qa1-qa5 x 4K, 32K x depths 0, 50, 100), one sample a cell."""
    spec = load_spec(None, generator="babilong", tasks=TASKS, lengths="4k,32k", depths="0,50,100", samples=1)
    out = build(spec, tmp_path_factory.mktemp("babilong") / "ds")
    rows = pl.read_parquet(sorted(out.glob("*/*.parquet"))).to_dicts()
    return spec, out, rows


def test_the_grid_builds_and_validates_at_exact_lengths(grid, tokenizer):
    spec, out, rows = grid
    assert validate_directory(out).problems == []
    assert len(rows) == 5 * 2 * 3
    for row in rows:
        assert row["prompt_length"] == len(tokenizer.encode(row["prompt"]))
        assert row["target_length"] - 64 <= row["prompt_length"] + row["reserve"] <= row["target_length"]


def test_qa1_answers_rederived_with_our_own_reading(grid):
    """In qa1 every fact is a move; the asked person's last sentence that ends in a room is the answer."""
    _, _, rows = grid
    for row in (r for r in rows if r["task"] == "qa1"):
        person = re.search(r"Where is ([A-Z][a-z]+) now\?", row["input"]).group(1)
        rooms = re.findall(rf"(?<![A-Za-z]){person} [a-z ]+? the ([a-z]+)\.", row["input"])
        assert rooms and rooms[-1] == row["answers"][0], row["id"]


def test_supporting_facts_sit_where_the_depth_grid_puts_them(grid):
    """Facts are recorded in story order with non-decreasing depths; the first supporting fact sits at
    depth x (100 - spread) / 100 and the last `spread` points later (one supporting fact: at depth)."""
    _, _, rows = grid
    for row in rows:
        metadata = decode_metadata(row["metadata"])
        facts, support = metadata["facts"], metadata["supporting"]
        offsets = [f["char_offset"] for f in facts]
        assert offsets == sorted(offsets), row["id"]
        depth, spread = float(row["id"].split("-d")[1].split("-")[0]), metadata["params"]["spread"]
        first, last = facts[support[0]], facts[support[-1]]
        want_first = depth if len(set(support)) == 1 else depth * (100 - spread) / 100
        want_last = depth if len(set(support)) == 1 else want_first + spread
        # Facts that share a boundary push each other along by their size: a few points at 4K.
        slack = 4.0 if row["target_length"] == 4096 else 1.0
        assert abs(first["depth"] - want_first) <= slack, (row["id"], first["depth"], want_first)
        assert abs(last["depth"] - want_last) <= slack, (row["id"], last["depth"], want_last)
        assert row["depths"] == [f["depth"] for f in facts]


def test_each_planted_defect_is_rejected(grid):
    spec, _, rows = grid
    generator = make_generator(spec)
    for row in rows:
        metadata = decode_metadata(row["metadata"])
        assert answer_from_facts(generator, row, metadata) == []
        assert supporting_facts(generator, row, metadata) == []
        # A wrong answer.
        other = next(w for w in metadata["labels"] if w != row["answers"][0])
        assert answer_from_facts(generator, {**row, "answers": [other]}, metadata)
        # Each supporting fact cut out of the text, in turn.
        for n in metadata["supporting"]:
            fact = metadata["facts"][n]
            cut = {**row, "input": row["input"][: fact["char_offset"]] + row["input"][fact["char_end"] :]}
            problems = supporting_facts(generator, cut, metadata)
            assert problems and "not stated" in problems[0], (row["id"], n, problems)
        # A distractor that changes the state: facts the world allows, about the story's people and
        # things, added after the story; the row keeps its answer.
        planted = state_changing_distractor(row)
        added = [f for _, _, f in read_facts(generator.templates, planted["input"])][len(metadata["facts"]) :]
        assert added, row["id"]
        if row["task"] != "qa4":  # qa4's distractor is a second room on the asked side: no single answer
            assert world.replay([world.Fact.from_dict(f) for f in metadata["facts"]] + added)[1] == []
        problems = supporting_facts(generator, planted, metadata)
        assert any("changes the answer" in p for p in problems), (row["id"], problems)
        assert answer_from_facts(generator, planted, metadata), row["id"]
        # A supporting fact named by a number below zero (the same fact counted from the end), or by
        # no number of the story's: not one of its facts.
        for forged in (metadata["supporting"][-1] - len(metadata["facts"]), len(metadata["facts"]), "0", True):
            problems = supporting_facts(generator, row, {**metadata, "supporting": [*metadata["supporting"], forged]})
            assert problems and "is not one of the" in problems[-1], (row["id"], forged, problems)


def test_a_fact_shaped_sentence_in_the_haystack_is_caught(grid):
    """A corpus sentence that reads as a fact ("Tom went to the attic.") is a fact to a reader: the row
    that holds one is refused (and drawn again), never written."""
    spec, _, rows = grid
    generator = make_generator(spec)
    row = next(r for r in rows if r["task"] == "qa1")
    metadata = decode_metadata(row["metadata"])
    person = decode_metadata(row["metadata"])["story_question"]["person"]
    wrong = next(w for w in metadata["labels"] if w != row["answers"][0])
    at = metadata["facts"][-1]["char_end"]
    text = row["input"]
    planted = {**row, "input": f"{text[:at]} {person} went to the {wrong}.{text[at:]}"}
    assert answer_from_facts(generator, planted, metadata)


def test_world_semantics_follow_babi():
    F, Q = world.Fact, world.Question
    story = [
        F("move", person="Ann", room="attic"),
        F("take", person="Ann", thing="kettle"),
        F("move", person="Ben", room="cellar"),
        F("move", person="Ann", room="porch"),
        F("move", person="Ann", room="cellar"),
        F("give", person="Ann", thing="kettle", other="Ben"),
        F("drop", person="Ben", thing="kettle"),
        F("relation", room="attic", direction="north", near="porch"),
    ]
    done, refused = world.replay(story)
    assert refused == []
    assert done.answer(Q("where_person", person="Ann")) == ("cellar", [4])
    assert done.answer(Q("where_thing", thing="kettle"))[0] == "cellar"
    assert done.answer(Q("where_before", thing="kettle", room="cellar")) == ("porch", [1, 3, 4])
    assert done.answer(Q("where_before", thing="kettle", room="porch")) == (None, [])  # not its latest room
    assert done.answer(Q("giver", thing="kettle", other="Ben")) == ("Ann", [5])
    assert done.answer(Q("last_receiver", thing="kettle"))[0] == "Ben"
    assert done.answer(Q("room_in_direction", room="porch", direction="north"))[0] == "attic"
    assert done.answer(Q("direction_of_room", room="porch", direction="south"))[0] == "attic"
    # A strict world refuses what cannot happen.
    _, refused = world.replay([F("move", person="Ann", room="attic"), F("drop", person="Ann", thing="kettle")])
    assert refused and "without holding it" in refused[0]


def test_scoring_is_the_shared_policy(grid):
    _, _, rows = grid
    for row in rows:
        labels = decode_metadata(row["metadata"])["labels"]
        gold = row["answers"][0]
        assert score(row, f"The answer is {gold}.") == 1.0
        assert score(row, ", ".join(labels)) == 0.0  # every candidate
        assert score(row, "I cannot tell from the text.") == 0.0
        assert babilong_compare(row, f"{gold}. Not {labels[0]}") == 1.0  # first sentence only, as BABILong
        assert babilong_compare(row, " ".join(labels)) == (1.0 if labels == [gold] else 0.0)


def test_bad_settings_are_one_line_errors(tmp_path):
    runner = CliRunner()
    for args, message in [
        (["--task", "qa4", "--set", "facts=12"], "at most 11"),
        (["--task", "qa3", "--set", "facts=500"], "at most 80"),
        (["--task", "qa1", "--set", "haystack=corpus"], "needs --set corpus"),
        (["--task", "qa9"], "qa9"),
        (["--task", "qa1", "--set", "spread=120"], "spread"),
    ]:
        result = runner.invoke(
            cli, ["build", "--generator", "babilong", "--lengths", "2k", "-o", str(tmp_path / "o"), *args]
        )
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_a_user_corpus_haystack(tmp_path):
    corpus = tmp_path / "essays.txt"
    corpus.write_text(" ".join(f"Essay sentence number {n} talks about gardens and rivers." for n in range(3000)))
    spec = load_spec(
        None,
        generator="babilong",
        tasks="qa2",
        lengths="2k",
        depths="50",
        samples=2,
        haystack="corpus",
        corpus=str(corpus),
    )
    out = build(spec, tmp_path / "ds")
    assert validate_directory(out).problems == []
    row = pl.read_parquet(next(Path(out).glob("qa2/*.parquet"))).to_dicts()[0]
    assert "Essay sentence number" in row["input"]
    assert get_tokenizer("cl100k_base").count(row["prompt"]) == row["prompt_length"]


@pytest.mark.parametrize(
    ("wording", "message"),
    [
        ("{{ person }} went to the {{ room }}", "must end with a full stop"),
        # filled per fact, the filter would be dropped; read back, the fact would not be found
        ("{{ person }} went to the {{ room|upper }}.", "must print {{ person }}"),
    ],
)
def test_a_user_wording_that_cannot_be_read_back_is_refused_up_front(tmp_path, wording, message):
    from longsynth.generators.babilong.generator import BabilongGenerator

    ours = (BabilongGenerator.template_folder / "fact.j2").read_text()
    folder = tmp_path / "templates" / "babilong"
    folder.mkdir(parents=True)
    (folder / "fact.j2").write_text(ours.replace("{{ person }} went to the {{ room }}.", wording))
    result = CliRunner().invoke(
        cli,
        ["build", "--generator", "babilong", "--task", "qa1", "--lengths", "2k",
         "--template-dir", str(tmp_path / "templates"), "-o", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "o" / "qa1").exists()


def test_a_users_long_wordings_are_read_back(tmp_path):
    """A wording of a user's own (`--template-dir`), far longer than ours, is found and read whole."""
    from longsynth.generators.babilong.generator import BabilongGenerator

    ours = (BabilongGenerator.template_folder / "fact.j2").read_text()
    # Long fixed text on both sides of the names: the reader finds a wording by its longest piece (here
    # the end) and must still reach the start, 200 characters before it.
    long = (
        "Once the long and winding day had gone on through fields, lanes, markets, squares, orchards, "
        "bridges, mills and the whole of the old town until the lamps were lit and the bells had rung, "
        "{{ person }} went to the {{ room }}, where the evening went on quietly, with tea and a fire and "
        "talk of the weather, the harvest, the river, the roads and the neighbours, until well after dark."
    )
    folder = tmp_path / "templates" / "babilong"
    folder.mkdir(parents=True)
    (folder / "fact.j2").write_text(ours.replace("{{ person }} went to the {{ room }}.", long))
    spec = load_spec(None, generator="babilong", tasks="qa1", lengths="2k", depths="0,100", samples=3,
                     template_dir=str(tmp_path / "templates"))  # fmt: skip
    out = build(spec, tmp_path / "ds")
    assert validate_directory(out).problems == []
    rows = pl.read_parquet(sorted(out.glob("qa1/*.parquet"))).to_dicts()
    assert any("Once the long and winding day" in row["input"] for row in rows)


def test_a_corpus_full_of_questions_is_one_line_not_a_row(tmp_path):
    """A hostile corpus whose every paragraph asks a babilong question: no draw can be answered
    unambiguously, so none is written, and the build ends in one line (exit 2), not a traceback."""
    import json

    corpus = tmp_path / "questions.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"text": f"Paragraph {n} is plain. Where is Anna now? Nobody knows."}) for n in range(500))
    )
    result = CliRunner().invoke(
        cli,
        ["build", "--generator", "babilong", "--task", "qa1", "--lengths", "2k", "--samples", "1",
         "--set", "haystack=corpus", "--set", f"corpus={corpus}", "-o", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "questions, expected 1" in result.output and "Traceback" not in result.output
    assert not list((tmp_path / "o").rglob("*.parquet"))


def test_one_pass_search_finds_what_searching_each_wording_finds(grid):
    """The readers find every wording's fixed text in one Aho-Corasick pass over an ASCII text, and by
    one `str.find` scan per wording otherwise: both give the same hits, overlapping ones included, on
    every row of the grid and on a row made non-ASCII (where offsets in bytes and characters part)."""
    from longsynth.generators.babilong import wording

    spec, _, rows = grid
    marks = wording._all_marks(make_generator(spec).templates)

    def one_scan_per_mark(text):  # an independent reading: a lookahead finds overlapping occurrences
        found = {(m.start(), mark) for mark in marks for m in re.finditer(f"(?={re.escape(mark)})", text)}
        return tuple(sorted(found))

    for row in rows:
        text = row["input"]
        assert text.isascii()
        assert wording._mark_hits(text, marks) == one_scan_per_mark(text)
        assert len(one_scan_per_mark(text)) >= len(decode_metadata(row["metadata"])["facts"])
    text = "Café, naïve — " + rows[0]["input"]
    assert wording._mark_hits(text, marks) == one_scan_per_mark(text)
    overlapping = " went to the  went to the " * 2  # a mark right after itself, and one made of two
    assert wording._mark_hits(overlapping, marks) == one_scan_per_mark(overlapping)


def test_mark_hits_are_every_mark_at_every_offset():
    """The wording marks found in a text (overlapping ones and marks that start others included) are
    exactly what trying every mark at every offset finds."""
    from longsynth.generators.babilong.wording import _mark_hits

    marks = tuple(
        sorted(
            [" went to the ", " went to the kitchen", " to the ", "Who is in the ", " is in the "],
            key=lambda m: (-len(m), m),
        )
    )
    text = "Mary went to the kitchen. Who is in the hall? John went to the garden and back to the hall."
    brute = sorted((at, m) for m in marks for at in range(len(text)) if text.startswith(m, at))
    assert list(_mark_hits.__wrapped__(text, marks)) == brute and len(brute) >= 6


def test_a_wording_filled_with_names_is_what_rendering_it_with_them_gives(tmp_path):
    """Our fact.j2 only prints the names, so each wording is rendered once with placeholders and
    filled per fact: the text equals a render with the names, for every kind and form (a user's
    wording that does more with a name is refused: see the test above)."""
    import random

    from longsynth.generators.babilong import wording

    generator = make_generator(load_spec(None, generator="babilong", tasks="qa1", lengths="2k", samples=1))
    templates = generator.templates
    assert len(wording.fact_wordings(templates)) == sum(wording.FORMS.values())  # the fill path under test
    rng = random.Random(3)
    for kind, fields in wording._FIELDS.items():
        for _ in range(40):
            fact = world.Fact(kind, **{f: rng.choice(["Mary", "Sandra", "kitchen", "apple", "north"]) for f in fields})
            form = random.Random(7).randrange(wording.FORMS[kind])
            expected = templates.render("fact.j2", form=form, **fact.__dict__)
            assert wording.render_fact(templates, fact, random.Random(7)) == expected


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("{{ person }} went to the {{ room }}.", True),
        ("{% if kind == 'move' %}{{ person }} moved.{% endif %}", True),  # logic on what is not a name
        ("{{ person|upper }} moved.", False),
        ("{% if person == 'Mary' %}She{% else %}{{ person }}{% endif %} moved.", False),
        ("{% for c in person %}{{ c }}{% endfor %}", False),
        ("{% set who = person %}{{ who }}", False),
        ("{% set thing = {'a': 'b'}.get(kind, 'c') %}{{ thing }} {{ person }}", True),  # a set of no name
        ("{% set person = 'Ann' %}{{ person }}", False),
        ("{% filter upper %}{{ person }}{% endfilter %}", False),
        ("{% set x %}{{ person }}{% endset %}{{ x|upper }}", False),
        ("{% for n in range(2) %}{{ person }}{% endfor %}", True),
        ("{% include 'other.j2' %}", False),
        ("{{ person ~ '!' }}", False),
        ("{{ person.title() }}", False),
    ],
)
def test_a_template_prints_a_name_plainly_only_as_itself(tmp_path, source, plain):
    from longsynth.templating import Templates

    (tmp_path / "t.j2").write_text(source)
    (tmp_path / "other.j2").write_text("{{ person }}")
    assert Templates.folder(str(tmp_path)).prints_plainly("t.j2", ("person", "room")) is plain
