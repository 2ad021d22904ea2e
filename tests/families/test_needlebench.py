"""NeedleBench's M-RT, M-RS and ATC: answers re-derived here from the text with our own parsing,
needles at their depths, ATC with and without a haystack, the metric, and bad settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.inspect import validate_directory
from longsynth.pipeline import build
from longsynth.scoring import score
from longsynth.spec import load_spec

NAME = r"[A-Z][a-z]+ [A-Z][a-z]+"
# Our reading of the four kinship wordings: (pattern, which group is the elder).
KINSHIP = [
    (rf"({NAME}) is ({NAME})'s (?:grandfather|grandmother|father|mother)\.", 1),
    (rf"({NAME})'s (?:grandfather|grandmother|father|mother) is ({NAME})\.", 2),
    (rf"As ({NAME})'s (?:grandfather|grandmother|father|mother), ({NAME}) shaped", 2),
    (rf"({NAME}) grew up close to ({NAME}), who is", 2),
]


def _rows(out: Path, task: str | None = None) -> list[dict]:
    rows = pl.read_parquet(sorted(out.glob("*/*.parquet"))).to_dicts()
    return [r for r in rows if task is None or r["task"] == task]


def _eldest(text: str, person: str) -> tuple[str, int]:
    """Walk up the kinship statements from `person`: (the eldest, statements read)."""
    elder = {}
    count = 0
    for pattern, elder_group in KINSHIP:
        for match in re.finditer(pattern, text):
            younger = match.group(3 - elder_group)
            assert younger not in elder
            elder[younger] = match.group(elder_group)
            count += 1
    while person in elder:
        person = elder[person]
    return person, count


@pytest.fixture(scope="module")
def bench_build(tmp_path_factory):
    spec = load_spec(
        None,
        generator="needlebench",
        tasks="multi_retrieval,multi_reasoning,ancestral_trace",
        lengths="2k,8k",
        depths="0,50,100",
        samples=2,
    )
    return build(spec, tmp_path_factory.mktemp("nb") / "ds")


def test_builds_and_validates(bench_build):
    assert validate_directory(bench_build).problems == []


def test_retrieval_needles_read_back_at_their_depths(bench_build):
    for row in _rows(bench_build, "multi_retrieval"):
        found = dict(re.findall(rf"The drawer of ({NAME})'s desk holds one box, marked \"([a-z]+)\"\.", row["input"]))
        people = re.findall(NAME, row["question"].split(":", 2)[-1])
        # NeedleBench's 5 asked needles, and 5 boxes of people who are not asked about.
        assert len(found) == 10 and set(people) < set(found) and len(people) == 5
        assert [found[p] for p in people] == row["answers"]
        requested = float(row["id"].split("-d")[1].split("-")[0])
        assert abs(row["depths"][0] - requested) <= max(1.0, 100 * 60 / row["length"])  # the first at the cell depth
        assert len(row["depths"]) == 10


def test_reasoning_chain_followed_in_the_text(tmp_path):
    for hops in (2, 3, 4, 5):
        out = build(
            load_spec(
                None,
                generator="needlebench",
                tasks="multi_reasoning",
                lengths="2k",
                depths="50",
                samples=2,
                num_needles=hops,
            ),
            tmp_path / f"h{hops}",
        )
        for row in _rows(out):
            text = row["input"]
            current = re.search(rf"where ({NAME}) was born", row["question"]).group(1)
            links = [
                r"{} was born in the town of ([A-Z][a-z]+(?: [A-Z][a-z]+)*)\.",
                r"The town of {} lies on the shore of Lake ([A-Z][a-z]+)\.",
                r"Lake {} is fed by the ([A-Z][a-z]+) River\.",
                r"The {} River rises in the ([A-Z][a-z]+) Mountains\.",
                r"The {} Mountains were first mapped by (" + NAME + r")\.",
            ]
            for link in links[:hops]:
                (current,) = re.findall(link.format(re.escape(current)), text)
            assert row["answers"] == [current]
            assert current not in row["question"]  # answerable only through every link
            assert len(row["depths"]) == hops * 4  # the asked chain and 3 distractor chains
            # No count of mentions finds the answer: each chain's last name is stated once, as the answer is.
            last = re.compile(links[hops - 1].format(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*"))
            ends = last.findall(text)
            assert len(ends) == 4 and current in ends and all(text.count(e) == 1 for e in ends)


def test_atc_without_a_haystack_is_the_chain_alone(bench_build):
    for row in _rows(bench_build, "ancestral_trace"):
        meta = json.loads(row["metadata"])
        person = re.search(rf"ancestor of ({NAME})", row["question"]).group(1)
        eldest, count = _eldest(row["input"], person)
        assert row["answers"] == [eldest] and count == 24  # 8 needles by default, in 3 lines
        body = row["input"].split("\n\n")[1]  # instructions, the statements, the question
        assert len(re.findall(r"\.(?: |$)", body)) == 24  # nothing but the statements: 3 lines of 8
        # Other lines have eldest people of their own: the answer depends on who is asked.
        others = [n for n in meta["names"] if n != person and _eldest(row["input"], n)[0] != eldest]
        assert len({_eldest(row["input"], n)[0] for n in others}) == 2
        assert meta["fills_target"] is False and row["prompt_length"] + row["reserve"] <= row["target_length"]
        assert "-d" not in row["id"]  # no depth grid: the statements place themselves


def test_atc_with_a_haystack_and_many_needles(tmp_path):
    spec = load_spec(
        None,
        generator="needlebench",
        tasks="ancestral_trace",
        lengths="8k",
        samples=2,
        num_needles=64,
        haystack="prose",
    )
    out = build(spec, tmp_path / "ds")
    assert validate_directory(out).problems == []
    for row in _rows(out):
        person = re.search(rf"ancestor of ({NAME})", row["question"]).group(1)
        eldest, count = _eldest(row["input"], person)
        assert row["answers"] == [eldest] and count == 3 * 64
        assert "fills_target" not in json.loads(row["metadata"])
        assert row["target_length"] - 16 <= row["prompt_length"] + row["reserve"] <= row["target_length"]
        assert len(row["depths"]) == 3 * 64 and max(row["depths"]) - min(row["depths"]) > 50


def test_the_oracle_reads_every_kinship_statement_our_own_reading_finds(tmp_path):
    """The oracle (which tries only the wordings that can follow each "<younger>'s <relation>", each
    where the text before the mark, read backwards, says it starts) reads the same (younger, elder)
    pairs, in order, as our four patterns over the whole text, also with marks that belong to no
    statement, statements that break off after their mark and a name inside a longer word."""
    from longsynth.generators.needlebench.ancestry import read_statements
    from longsynth.pipeline import make_generator

    options = {"lengths": "8k", "samples": 1, "num_needles": 32, "haystack": "prose"}
    spec = load_spec(None, generator="needlebench", tasks="ancestral_trace", **options)
    generator = make_generator(spec)
    text = _rows(build(spec, tmp_path / "ds"))[0]["input"]
    noise = " Ann Lee's father! Bo Hart's mother is unknown. Cy Dee is Ed Fox's grandmother, and more. "
    noise += "McKay Dunn's mother is Flo Ray. "  # read back from the mark, the name starts at its last capital
    text = noise + text[: len(text) // 2] + noise + "Gil Ho's mother is Ida Jo." + text[len(text) // 2 :]

    def ours(text: str) -> list[tuple[str, str]]:
        found = {}
        for pattern, elder_group in KINSHIP:
            pattern = pattern.replace(", who is", r", who is \1's (?:grandfather|grandmother|father|mother)\.")
            for match in re.finditer(pattern, text):
                younger = match.group(3 - elder_group)
                found[match.span()] = (younger, match.group(elder_group))
        return [found[span] for span in sorted(found)]

    expected = ours(text)
    assert len(expected) >= 3 * 32 + 2 and ("Gil Ho", "Ida Jo") in expected and ("Kay Dunn", "Flo Ray") in expected
    assert read_statements(generator, text) == expected


def test_final_answer_metric(bench_build):
    for row in _rows(bench_build, "ancestral_trace") + _rows(bench_build, "multi_reasoning"):
        gold = row["answers"][0]
        names = json.loads(row["metadata"])["names"]
        wrong = next(n for n in names if n != gold)
        assert score(row, f"Following the chain step by step.\nSo the answer is \\boxed{{{gold}}}.") == 1.0
        assert score(row, f"Let me think.\n{gold}") == 1.0  # the answer on the last line
        assert score(row, f"\\boxed{{{wrong}}}") == 0.0
        assert score(row, ", ".join(names)) == 0.0  # listing every name does not score
        assert score(row, row["input"]) == 0.0  # nor does echoing the context
    for row in _rows(bench_build, "multi_retrieval"):
        assert score(row, "The boxes are marked " + ", ".join(row["answers"])) == 1.0
        assert score(row, row["answers"][0]) == pytest.approx(1 / 3)  # F1: precision 1, recall 1/5
        assert score(row, row["input"]) <= 0.1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "multi_reasoning", "--set", "num_needles=6"], "num_needles must be from 2 to 5"),
        (["--task", "multi_retrieval", "--set", "haystack=none"], "haystack=none is for ancestral_trace only"),
        (["--task", "ancestral_trace", "--set", "num_needles=512", "--lengths", "2k"], "ask for a longer length"),
    ],
)
def test_bad_settings_are_one_clear_error(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["build", "--generator", "needlebench", *args, "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.output.startswith("error:") and message in result.output, result.output


@pytest.mark.parametrize(
    "reply, hit",
    [
        ("So the eldest is \\boxed{GOLD}.", 1.0),
        ("\\boxed{\\text{GOLD}}", 1.0),
        ('\\boxed{ "GOLD" }', 1.0),
        ("GOLD", 0.0),  # NeedleBench v2 reads only a boxed answer
        ("\\boxed{GOLD and someone}", 0.0),  # an exact name, not containment
        ("\\boxed{someone} then \\boxed{GOLD}", 1.0),  # the last box
    ],
)
def test_atc_anchor_score_is_needlebench_v2s_boxed_exact_match(reply, hit):
    from longsynth.generators.needlebench.metrics import needlebench_atc

    assert needlebench_atc({"answers": ["Ann Lee"]}, reply.replace("GOLD", "Ann Lee")) == hit


def test_names_are_salted_per_config(tmp_path):
    """Row k of two configs (2 and 3 needles) draws other people, as NeedleBench's seed-by-row does not."""
    firsts = []
    for hops in (2, 3):
        spec = load_spec(
            None,
            generator="needlebench",
            tasks="multi_reasoning",
            lengths="2k",
            depths="50",
            samples=1,
            num_needles=hops,
        )
        firsts.append(json.loads(_rows(build(spec, tmp_path / f"h{hops}"))[0]["metadata"])["names"])
    assert not set(firsts[0]) & set(firsts[1])


def test_retrieval_is_scored_in_order_and_naming_unasked_boxes_costs(bench_build):
    from longsynth.scoring import anchor_score

    row = _rows(bench_build, "multi_retrieval")[0]
    meta = json.loads(row["metadata"])
    unasked = [item for item in meta["items"] if item not in row["answers"]]
    assert len(unasked) == 5
    assert score(row, ", ".join(row["answers"])) == 1.0
    assert score(row, ", ".join(reversed(row["answers"]))) < 0.5  # order counts
    assert score(row, ", ".join(meta["items"])) < 1.0  # every box label: over-generation costs
    assert anchor_score(row, ", ".join(meta["items"])) == 1.0  # NeedleBench's share of answers credits it


def test_statements_reworded_after_their_mark_fail_validation(tmp_path):
    """A dataset whose kinship statements were reworded after "<younger>'s <relation>" ("is" made
    "was", the shard's sha256 fixed up to match) is read as stating no statement there: `validate`
    exits 1 naming the statements it no longer finds, never a crash."""
    import hashlib

    out = tmp_path / "atc"
    options = ["--generator", "needlebench", "--task", "ancestral_trace", "--lengths", "2k", "--samples", "2"]
    assert CliRunner().invoke(cli, ["build", *options, "-o", str(out)]).exit_code == 0
    shard = sorted(out.glob("*/*.parquet"))[0]
    frame = pl.read_parquet(shard)
    for relation in ("father", "mother"):  # (grandfather and grandmother end in these)
        frame = frame.with_columns(
            pl.col(column).str.replace_all(f"{relation} is ", f"{relation} was ", literal=True)
            for column in ("input", "prompt")
        )
    frame.write_parquet(shard)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][str(shard.relative_to(out))] = hashlib.sha256(shard.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(cli, ["validate", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "2 failed" in result.output
    assert "is not at its recorded offsets" in result.output


def test_a_name_read_backwards_is_the_name_read_forwards():
    """The ATC oracle reads a younger name back from its mark: the backwards pattern takes exactly
    the strings whose reversal the forwards one takes."""
    from longsynth.generators.needlebench.names import PERSON, PERSON_BACKWARDS

    tries = ["Ann Lee", "McKay Dunn", "ann Lee", "Ann  Lee", "A Lee", "Ann Lee-Ho", "Zoe Quill", "Ann", "ANN LEE"]
    for name in tries:
        assert bool(re.fullmatch(PERSON, name)) == bool(re.fullmatch(PERSON_BACKWARDS, name[::-1])), name
