"""The longbio family: all ten tasks, the parsing oracle and its planted defects, scoring."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from longsynth import regenerate, scoring
from longsynth.generators.longbio.bios import load_style, package_templates, parse_bios, stated_ages
from longsynth.generators.longbio.metrics import citation_parts
from longsynth.inspect import validate_directory
from longsynth.pipeline import build, make_generator
from longsynth.spec import load_spec
from longsynth.tokenizers import get_tokenizer
from longsynth.validators import validate_row

ALL = (
    "bio_standard,bio_multi_standard,bio_paraphrase,bio_pronoun,bio_calculation,bio_rank,bio_multihop,"
    "bio_twodiff,bio_citation,bio_idk"
)


@pytest.fixture(scope="module")
def bio_build(tmp_path_factory):
    spec = load_spec(None, generator="longbio", tasks=ALL, lengths="8k", depths="25,75", samples=2)
    out = build(spec, tmp_path_factory.mktemp("bio") / "ds")
    return spec, out


def _rows(out, task=None):
    pattern = f"{task}/*.parquet" if task else "*/*.parquet"
    return pl.read_parquet(sorted(out.glob(pattern))).to_dicts()


def test_show_build_validates_with_exact_lengths(bio_build):
    spec, out = bio_build
    report = validate_directory(out)
    assert report.problems == [] and report.rows == 40
    enc = get_tokenizer("cl100k_base")._enc
    for row in _rows(out):
        assert len(enc.encode_ordinary(row["input"])) == row["length"]
        assert len(enc.encode_ordinary(row["prompt"])) == row["prompt_length"]
        assert 8192 - 16 <= row["prompt_length"] + row["reserve"] <= 8192


def test_every_context_ends_with_a_whole_bio(bio_build):
    """No bio is cut: the haystack's last gap is closed with whole bios, so the text before the first
    question ends a sentence and no row records a partial unit."""
    _, out = bio_build
    for row in _rows(out):
        assert json.loads(row["metadata"])["partial_unit"] is False
        assert row["input"][: row["input"].index("\n\nQuestion: ")].rstrip().endswith("."), row["id"]


def test_asked_bios_sit_at_their_depths_and_regenerate(bio_build):
    spec, out = bio_build
    for row in _rows(out, "bio_standard"):
        meta = json.loads(row["metadata"])
        bio = meta["bios"][0]
        assert row["input"][bio["char_offset"] :].startswith(f"The following is the biography of {bio['name']}.")
        assert abs(row["depths"][0] - bio["requested_depth"]) <= 2.0
    row = _rows(out, "bio_citation")[1]
    assert regenerate(spec, row["id"]) == row


def test_answers_re_derived_per_task(bio_build):
    _, out = bio_build
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        style = load_style(meta["params"]["style"], package_templates())
        bios = {b.name: b for b in parse_bios(row["input"], style)}
        asked = meta["asked"]
        if row["task"] == "bio_rank":
            ages = [int(bios[n].values["age"]) for n in row["answers"]]
            assert ages == sorted(ages) and len(set(ages)) == len(ages)
        elif row["task"] == "bio_calculation":
            a, b = (int(bios[n].values["age"]) for n in asked)
            assert row["answers"] == [str(abs(a - b))]
        elif row["task"] == "bio_idk":
            assert meta["attribute"] not in bios[asked[0]].values
            assert meta["twin_id"] == row["id"].replace("bio_idk", "bio_standard")
        elif row["task"] == "bio_multihop":
            assert meta["attribute"] in bios[asked[-1]].same_as
            assert bios[asked[0]].values[meta["attribute"]] == row["answers"][0]


def test_idk_row_is_the_twin_minus_one_sentence(bio_build):
    _, out = bio_build
    twins = {r["id"]: r for r in _rows(out, "bio_standard")}
    for row in _rows(out, "bio_idk"):
        meta = json.loads(row["metadata"])
        twin = twins[meta["twin_id"]]
        assert json.loads(twin["metadata"])["asked"] == meta["asked"]
        assert twin["question"] == row["question"]


@pytest.fixture(scope="module")
def bio_generator(bio_build):
    spec, _ = bio_build
    return make_generator(spec)


def _row(out, task, index=0):
    return _rows(out, task)[index]


def test_oracle_rejects_duplicated_person(bio_build, bio_generator):
    _, out = bio_build
    row = _row(out, "bio_standard")
    bio = json.loads(row["metadata"])["bios"][0]
    text = row["input"][bio["char_offset"] : bio["char_end"]]
    row["input"] = row["input"].replace(text, text + " " + text, 1)
    problems = validate_row(row, bio_generator, bio_generator.tokenizer)
    assert any("has 2 bios" in p or "more than one bio" in p for p in problems)


def test_oracle_rejects_conflicting_attribute_in_a_distractor(bio_build, bio_generator):
    _, out = bio_build
    row = _row(out, "bio_standard", 1)
    name = json.loads(row["metadata"])["asked"][0]
    start = json.loads(row["metadata"])["context_span"][0]
    first_period = row["input"].index(". ", start) + 2
    row["input"] = row["input"][:first_period] + f"{name} was born in Oslo. " + row["input"][first_period:]
    problems = validate_row(row, bio_generator, bio_generator.tokenizer)
    assert any("is mentioned in the bio of" in p for p in problems)


def test_oracle_rejects_wrong_rank_order(bio_build, bio_generator):
    _, out = bio_build
    row = _row(out, "bio_rank")
    row["answers"] = list(reversed(row["answers"]))
    assert any("differ from those read" in p for p in validate_row(row, bio_generator, bio_generator.tokenizer))


def test_oracle_rejects_idk_row_whose_attribute_is_present(bio_build, bio_generator):
    _, out = bio_build
    row = _row(out, "bio_idk")
    meta = json.loads(row["metadata"])
    name, attribute = meta["asked"][0], meta["attribute"]
    sentence = (
        load_style("standard", package_templates())
        .shapes[attribute][0]
        .render(
            name,
            {
                "birthdate": "May 1, 1980",
                "birthplace": "Oslo",
                "hobby": "swimming",
                "university": "Westbrook College",
                "major": "Physics",
                "work_city": "Oslo",
            }[attribute],
        )
    )
    bio = meta["bios"][0]
    cut = bio["char_end"]
    row["input"] = row["input"][:cut] + " " + sentence + row["input"][cut:]
    problems = validate_row(row, bio_generator, bio_generator.tokenizer)
    assert any(f"the {attribute} of {name} is still stated" in p for p in problems)


def test_oracle_rejects_wrong_citation(bio_build, bio_generator):
    _, out = bio_build
    row = _row(out, "bio_citation")
    row["answers"] = [row["answers"][0], "[999]"]
    assert validate_row(row, bio_generator, bio_generator.tokenizer)


# ------------------------------------------------------------------ knobs


def test_num_people_density_and_shots(tmp_path):
    spec = load_spec(
        None,
        generator="longbio",
        tasks="bio_multi_standard",
        lengths="4k",
        depths="50",
        samples=1,
        num_people=5,
        density=0.0,
        shots=2,
        attribute="hobby",
    )
    row = _rows(build(spec, tmp_path / "k"))[0]
    meta = json.loads(row["metadata"])
    assert len(row["answers"]) == 5 and meta["attribute"] == "hobby"
    assert row["input"].count("Question:") == 3 and row["input"].count("Answer:") == 2
    bios = parse_bios(row["input"], load_style("standard", package_templates()))
    roles = {b["name"]: b["role"] for b in meta["bios"]}
    assert sum(r == "shot" for r in roles.values()) == 2 * 5
    for bio in bios:  # density 0: only asked and shot bios state the asked attribute
        assert ("hobby" in bio.values) == (bio.name in roles)


def test_default_shots_follow_the_paper_and_shot_answers_are_right(tmp_path):
    """Calculation, rank, multihop, twodiff and citation are two-shot by default, as in LongBioBench's
    headline setting; each demonstration's answer is re-derived from the bios the context states."""
    tasks = "bio_calculation,bio_rank,bio_multihop,bio_twodiff,bio_citation,bio_standard"
    spec = load_spec(None, generator="longbio", tasks=tasks, lengths="4k", depths="50", samples=2)
    out = build(spec, tmp_path / "s")
    assert validate_directory(out).problems == []
    style = load_style("standard", package_templates())
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        shots = 0 if row["task"] == "bio_standard" else 2
        assert meta["params"]["shots"] == shots
        demos = re.findall(r"^Question: (.*)\nAnswer: (.*)$", row["input"], flags=re.M)
        assert len(demos) == shots
        shot_names = [b["name"] for b in meta["bios"] if b["role"] == "shot"]
        ages = stated_ages(row["input"], style)
        bios = {b.name: b for b in parse_bios(row["input"], style)}
        for question, answer in demos:
            assert scoring.score(row, answer) < 1.0  # copying a demonstration never scores
            asks = answer if row["task"] == "bio_twodiff" else question  # twodiff names the pair in its answer
            named = sorted((n for n in shot_names if n in asks), key=asks.index)
            assert named and not any(n in question + answer for n in meta["asked"])
            if row["task"] == "bio_calculation":
                assert answer == str(abs(ages[named[0]] - ages[named[1]]))
            if row["task"] == "bio_rank":
                assert answer == ", ".join(sorted(named, key=ages.__getitem__))
            if row["task"] == "bio_twodiff":  # the named pair's stated ages differ as the question asks
                difference = int(re.search(r"\d+", question).group(0))
                assert len(named) == 2 and abs(ages[named[0]] - ages[named[1]]) == difference
                assert answer == f"{named[0]} and {named[1]}" and difference != meta["difference"]
            if row["task"] == "bio_citation":  # the value its bio states, then that bio's number in the text
                bio = bios[named[0]]
                assert answer == f"{bio.values[meta['attribute']]} [{bio.label}]"
            if row["task"] == "bio_multihop":  # follow "the same X as" links to the bio that states the value
                bio, hops = bios[named[-1]], 0
                while meta["attribute"] not in bio.values:
                    bio, hops = bios[bio.same_as[meta["attribute"]]], hops + 1
                assert hops >= 1 and bio.values[meta["attribute"]] == answer


def test_shots_can_be_turned_off_and_are_refused_where_unsupported(tmp_path):
    from longsynth.errors import SpecError

    spec = load_spec(None, generator="longbio", tasks="bio_calculation", lengths="2k", depths="50", shots=0)
    row = _rows(build(spec, tmp_path / "z"))[0]
    assert json.loads(row["metadata"])["params"]["shots"] == 0 and "Answer:" not in row["input"]
    for task in ("bio_idk",):
        with pytest.raises(SpecError, match="shots has no effect here"):
            make_generator(load_spec(None, generator="longbio", tasks=task, shots=1))


@pytest.mark.parametrize("task, n", [("bio_rank", 5), ("bio_multihop", 5), ("bio_citation", 2)])
def test_larger_people_counts(tmp_path, task, n):
    spec = load_spec(None, generator="longbio", tasks=task, lengths="4k", depths="50", samples=1, num_people=n)
    out = build(spec, tmp_path / task)
    assert validate_directory(out).problems == []
    row = _rows(out)[0]
    assert len(json.loads(row["metadata"])["asked"]) == n


def test_bad_num_people_is_a_spec_error():
    from longsynth.errors import SpecError

    with pytest.raises(SpecError, match="num_people must be one of 2, 5"):
        make_generator(load_spec(None, generator="longbio", tasks="bio_rank", num_people=3))


def test_distractors_share_names_with_asked_people(tmp_path):
    spec = load_spec(None, generator="longbio", tasks="bio_standard", lengths="8k", depths="50", samples=8)
    shared = 0
    for row in _rows(build(spec, tmp_path / "n")):
        asked = json.loads(row["metadata"])["asked"][0].split(" ")
        others = [b.name.split(" ") for b in parse_bios(row["input"], load_style("standard", package_templates()))]
        shared += any((o[0] == asked[0] or o[-1] == asked[-1]) and o != asked for o in others)
    assert shared >= 6


def test_128k_build(tmp_path):
    spec = load_spec(None, generator="longbio", tasks="bio_paraphrase,bio_rank", lengths="128k", depths="50", samples=1)
    out = build(spec, tmp_path / "big")
    assert validate_directory(out).problems == []


# ------------------------------------------------------------------ scoring


def test_rank_is_scored_as_the_exact_sequence(bio_build):
    """The last n mentions of the ranked people are the answer: "A, B, A" (it scored 1 when every name
    only had to appear in order) and both orders score 0; a natural sentence and reasoning that ends
    on the order score 1."""
    _, out = bio_build
    row = _row(out, "bio_rank")
    a, b = row["answers"]
    assert scoring.score(row, f"{a}, {b}") == 1.0
    assert scoring.score(row, f"{a} is younger than {b}.") == 1.0
    assert scoring.score(row, f"{b} is the older one and {a} the younger, so from youngest: {a}, {b}") == 1.0
    assert scoring.score(row, f"{a}, {b}, {a}") == 0.0
    assert scoring.score(row, f"{a}, {b} or {b}, {a}") == 0.0
    assert scoring.score(row, f"{b}, {a}") == 0.0
    assert scoring.anchor_score(row, f"{a}, {b}, {a}") == 1.0  # the anchor's in-order hit still credits it


def test_scoring_functions_on_right_and_wrong_predictions(bio_build):
    _, out = bio_build
    standard = _row(out, "bio_standard")
    assert scoring.score(standard, f"It is {standard['answers'][0].upper()}.") == 1.0
    assert scoring.score(standard, "I am not sure, maybe Narnia.") == 0.0
    multi = _row(out, "bio_multi_standard")
    assert scoring.score(multi, " then ".join(multi["answers"])) == 1.0
    # In reverse order neither value stands in its asked place: 0 (the policy's ordered F1 counts a value
    # only in its place).
    assert scoring.score(multi, " then ".join(reversed(multi["answers"]))) == 0.0
    assert scoring.score(multi, " then ".join(multi["answers"][:1])) == pytest.approx(2 / 3)
    calc = _row(out, "bio_calculation")
    assert scoring.score(calc, f"They are 3 and 7 apart... so {calc['answers'][0]}") == 1.0
    assert scoring.score(calc, f"{calc['answers'][0]} or maybe {int(calc['answers'][0]) + 1}") == 0.0
    idk = _row(out, "bio_idk")
    assert scoring.score(idk, "The biographies do not mention it.") == 1.0
    assert scoring.score(idk, "Physics.") == 0.0
    cite = _row(out, "bio_citation")
    value, label = cite["answers"]
    assert scoring.score(cite, f"{value} {label}") == 1.0
    assert scoring.score(cite, f"{value} [0]") == 0.0
    assert citation_parts(f"{value} [0]", cite["answers"]) == (1.0, 0.0)
    assert scoring.anchor_score(cite, f"{value} [0]") == 1.0  # answer accuracy, as LongBioBench reports it
    assert scoring.anchor_extra(cite, f"{value} [0]") == 0.0  # its citation accuracy, kept apart
    assert scoring.anchor_extra(cite, f"{value} {label}") == 1.0
    two = _row(out, "bio_twodiff")
    assert scoring.score(two, two["answers"][0]) == 1.0
    meta = json.loads(two["metadata"])
    bios = [b for b in parse_bios(two["input"], load_style("standard", package_templates())) if "age" in b.values]
    a = bios[0]
    wrong = next(b for b in bios[1:] if abs(int(b.values["age"]) - int(a.values["age"])) != meta["difference"])
    assert scoring.score(two, f"{a.name} and {wrong.name}") == 0.0
    # any valid pair counts, not only the planted one
    valid = next(
        (x, y)
        for x in bios
        for y in bios
        if x.name < y.name
        and abs(int(x.values["age"]) - int(y.values["age"])) == meta["difference"]
        and not re.search(re.escape(x.name), y.name)
        and not re.search(re.escape(y.name), x.name)
    )
    assert scoring.score(two, f"{valid[0].name} and {valid[1].name}") == 1.0


def test_user_template_folder_keeps_the_family_names(tmp_path):
    """`--template-dir DIR` with `DIR/longbio/standard/hobby.j2`, as before families had folders."""
    folder = tmp_path / "tpl" / "longbio" / "standard"
    folder.mkdir(parents=True)
    (folder / "hobby.j2").write_text("In spare hours {{ name }} is fond of {{ value }}.\n")
    spec = load_spec(
        None,
        generator="longbio",
        tasks="bio_standard",
        lengths="2k",
        depths="50",
        samples=2,
        attribute="hobby",
        template_dir=str(tmp_path / "tpl"),
    )
    out = build(spec, tmp_path / "b")
    assert validate_directory(out).problems == []
    for row in _rows(out, "bio_standard"):
        name = json.loads(row["metadata"])["asked"][0]
        assert f"In spare hours {name} is fond of {row['answers'][0]}." in row["input"]
        assert "in their free time" not in row["input"]


def _natural(row: dict) -> str:
    """A natural phrasing of the gold answer, as a model would write it."""
    answers, task = row["answers"], row["task"]
    if task == "bio_calculation":
        return f"They are {int(answers[0]) + 3} and 3 years old apart... so the difference is {answers[0]}."
    if task == "bio_idk":
        return "The biographies do not state it."
    if task == "bio_citation":
        pairs = zip(answers[0::2], answers[1::2], strict=True)
        return " and ".join(f"{value.lower()} {label}." for value, label in pairs)
    if task == "bio_twodiff":
        return f"{answers[0]}, whose ages differ as asked."
    return "The answer is " + ", then ".join(f"{a}." for a in answers)


def test_natural_answers_score_1_in_every_task(bio_build):
    _, out = bio_build
    rows = _rows(out)
    assert {r["task"] for r in rows} == set(ALL.split(","))
    for row in rows:
        assert scoring.score(row, _natural(row)) == 1.0, (row["task"], row["answers"])
        assert scoring.score(row, "zzz") == 0.0


def test_gold_values_carry_no_article_and_the_text_keeps_it(tmp_path):
    spec = load_spec(
        None, generator="longbio", tasks="bio_standard", lengths="4k", depths="50", samples=8, attribute="university"
    )
    rows = _rows(build(spec, tmp_path / "u"))
    universities = [r for r in rows if r["answers"][0].startswith("University of")]
    assert universities, "no University of ... drawn"
    for row in universities:
        assert f"the {row['answers'][0]}" in row["input"] or f"The {row['answers'][0]}" in row["input"]
        assert scoring.score(row, row["answers"][0]) == 1.0
        assert scoring.score(row, f"the {row['answers'][0].lower()}!") == 1.0


def test_calculation_never_asks_for_a_zero_difference(tmp_path):
    spec = load_spec(None, generator="longbio", tasks="bio_calculation", lengths="2k", depths="50", samples=40)
    assert all(int(r["answers"][0]) > 0 for r in _rows(build(spec, tmp_path / "c")))


def test_twodiff_is_scored_with_the_rows_own_templates(tmp_path):
    folder = tmp_path / "tpl" / "longbio" / "standard"
    folder.mkdir(parents=True)
    (folder / "age.j2").write_text("{{ name }} has lived for {{ value }} years.\n")
    spec = load_spec(
        None,
        generator="longbio",
        tasks="bio_twodiff",
        lengths="2k",
        depths="50",
        samples=2,
        template_dir=str(tmp_path / "tpl"),
    )
    out = build(spec, tmp_path / "t")
    assert validate_directory(out).problems == []
    for row in _rows(out):
        assert "has lived for" in row["input"]
        assert scoring.score(row, row["answers"][0]) == 1.0


def test_a_tampered_ages_map_is_found(tmp_path):
    """twodiff scores any pair from the recorded ages; the oracle checks that map against the text."""
    spec = load_spec(None, generator="longbio", tasks="bio_twodiff", lengths="2k", depths="50", samples=1)
    row = _rows(build(spec, tmp_path / "t"))[0]
    generator = make_generator(spec)
    assert validate_row(row, generator, generator.tokenizer) == []
    metadata = json.loads(row["metadata"])
    name = next(iter(metadata["ages"]))
    metadata["ages"][name] += 1
    problems = validate_row({**row, "metadata": json.dumps(metadata)}, generator, generator.tokenizer)
    assert any("recorded ages differ" in p for p in problems)


@pytest.mark.parametrize("style_name", ["standard", "paraphrase", "pronoun"])
def test_every_sentence_shape_reads_back_its_value(style_name):
    """Each shape, written with a real person's name and each attribute's values, parses back to that
    value. A date holds a comma: "On February 18, 1972, Christina Dawn Carpenter was born." was read as
    the name "1972, Christina Dawn Carpenter", so every draw using that shape for the asked birth date
    was refused and retried."""
    from longsynth.generators.longbio.people import stated, value_pools

    style = load_style(style_name, package_templates())
    name = "Christina Dawn Carpenter"
    values = {**{a: pool[:3] + pool[-3:] for a, pool in value_pools().items()}}
    values["birthdate"] = ["February 18, 1972", "May 1, 2001", "December 31, 1950"]
    values["age"] = ["7", "42", "101"]
    checked = 0
    for attribute, shapes in style.shapes.items():
        for shape in shapes:
            for value in values[attribute]:
                sentence = shape.render(name, stated(attribute, value))
                bio_name = "" if style.first_person else name
                assert style.parse_sentence(sentence, bio_name) == (attribute, value, False), sentence
                checked += 1
    assert checked > 30


def test_listing_values_or_hedging_a_refusal_does_not_score(bio_build):
    """The issue's shortcuts: every value of the asked attribute listed scored 1.0 on bio_standard, and
    "Not stated, or: <values>" 1.0 on bio_idk. A reply naming another value of the asked attribute
    (read from the bios in the text) now scores 0; the plain answers still score 1."""
    from longsynth.generators.longbio.metrics import attribute_values
    from longsynth.metadata_json import decode_metadata

    _, out = bio_build
    for task in ("bio_standard", "bio_paraphrase", "bio_pronoun", "bio_multihop", "bio_idk"):
        for row in _rows(out, task):
            values = attribute_values(row, decode_metadata(row["metadata"]))
            others = [v for v in values if v.lower() not in {a.lower() for a in row["answers"]}]
            assert others, row["id"]
            gold = "The biographies do not state it." if task == "bio_idk" else f"It is {row['answers'][0]}."
            assert scoring.score(row, gold) == 1.0, (row["id"], gold)
            assert scoring.score(row, ", ".join(values)) == 0.0, row["id"]
            hedge = f"Not stated, or: {', '.join(others[:3])}" if task == "bio_idk" else f"{gold} Or {others[0]}."
            assert scoring.score(row, hedge) == 0.0, (row["id"], hedge)


def test_anchor_score_is_longbiobenchs_own_hit(bio_build):
    """LongBioBench's evaluator on the raw reply: containment for one value (so listing every value is
    a hit there, and 0 by our policy), the last integer for calculation, items in order for lists,
    exactly two people named for twodiff."""
    from longsynth.generators.longbio.metrics import attribute_values
    from longsynth.metadata_json import decode_metadata

    _, out = bio_build
    standard = _row(out, "bio_standard")
    listing = ", ".join(attribute_values(standard, decode_metadata(standard["metadata"])))
    assert scoring.anchor_score(standard, listing) == 1.0 and scoring.score(standard, listing) == 0.0
    calc = _row(out, "bio_calculation")
    assert scoring.anchor_score(calc, f"maybe 3, so {calc['answers'][0]}") == 1.0
    assert scoring.anchor_score(calc, f"{calc['answers'][0]}, or 99") == 0.0
    multi = _row(out, "bio_multi_standard")
    assert scoring.anchor_score(multi, " then ".join(multi["answers"]).upper()) == 1.0
    two = _row(out, "bio_twodiff")
    ages = decode_metadata(two["metadata"])["ages"]
    third = next(name for name in ages if name not in two["answers"][0])
    assert scoring.anchor_score(two, two["answers"][0]) == 1.0
    assert scoring.anchor_score(two, f"{two['answers'][0]} and {third}") == 0.0  # three named: not a pair
    cite = _row(out, "bio_citation")
    assert scoring.anchor_score(cite, cite["answers"][0]) == 1.0  # answer accuracy, citation apart


def test_citation_accuracy_is_reported_apart_in_the_summary(bio_build, tmp_path):
    """LongBioBench reports answer accuracy and citation accuracy as two numbers; so do scores and summary."""
    from longsynth.eval.score import score_run, table

    _, out = bio_build
    rows = _rows(out, "bio_citation")
    # The right value and a wrong citation: answer accuracy 1, citation accuracy 0, our score 0.
    lines = [json.dumps({"id": r["id"], "prediction": f"{r['answers'][0]} [0]"}) for r in rows]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    scores, summary, _ = score_run(out, tmp_path / "p.jsonl")
    assert summary["tasks"]["bio_citation"] == 0.0 and summary["anchor"]["tasks"]["bio_citation"] == 1.0
    assert summary["anchor"]["extra"] == {"bio_citation": {"name": "LongBioBench citation accuracy", "mean": 0.0}}
    assert "LongBioBench citation accuracy 0.000" in table(summary)
    written = pl.read_parquet(tmp_path / "scores.parquet")
    assert written.filter(pl.col("task") == "bio_citation")["anchor_extra"].to_list() == [0.0] * len(rows)
