"""The holobench family: gold answers re-derived in sqlite3, placements, defects, user databases."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import polars as pl
import pytest

from longsynth import scoring
from longsynth.generators.holobench.databases import format_value
from longsynth.generators.holobench.metrics import holobench_scores
from longsynth.inspect import validate_directory
from longsynth.pipeline import build, make_generator
from longsynth.spec import load_spec
from longsynth.validators import validate_row

TASKS = "holo_filter,holo_aggregate,holo_group,holo_extreme,holo_join"


def _rows(out, task=None):
    return pl.read_parquet(sorted(out.glob(f"{task or '*'}/*.parquet"))).to_dicts()


@pytest.fixture(scope="module", params=["uniform", "begin", "middle", "end", "bimodal"])
def placed_build(request, tmp_path_factory):
    spec = load_spec(None, generator="holobench", tasks=TASKS, lengths="8k", samples=2, placement=request.param)
    return request.param, spec, build(spec, tmp_path_factory.mktemp(request.param) / "ds")


def _independent_sqlite(sql: str, rows: dict[str, list[dict]]) -> list[str]:
    con = sqlite3.connect(":memory:")
    for table, records in rows.items():
        columns = list(records[0])
        con.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        con.executemany(
            f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", [tuple(r.values()) for r in records]
        )
    return [" | ".join(format_value(v) for v in row) for row in con.execute(sql).fetchall()]


def test_show_build_per_placement(placed_build):
    placement, _, out = placed_build
    assert validate_directory(out).problems == []
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        derived = _independent_sqlite(meta["sql"], meta["rows"])
        if "ORDER BY" in meta["sql"]:
            assert derived == row["answers"]
        else:
            assert sorted(derived) == sorted(row["answers"])
        for records in meta["rows"].values():  # every placed row's values appear in the input
            for record in records:
                for value in record.values():
                    assert str(value if not isinstance(value, float) else f"{value:.2f}") in row["input"]
        assert row["length"] <= row["target_length"]
        assert len(row["depths"]) == sum(len(v) for v in meta["rows"].values())


def test_placement_puts_relevant_rows_where_asked(placed_build):
    placement, _, out = placed_build
    for row in _rows(out, "holo_filter"):
        depths = np.array(row["depths"])
        share = json.loads(row["metadata"])["relevant_tokens"] / row["length"]
        if placement == "begin":
            assert depths.max() <= 100 * share + 3
        elif placement == "end":
            assert depths.min() >= 100 * (1 - share) - 3
        elif placement == "middle":
            assert depths.min() >= 100 * (1 - share) / 2 - 3 and depths.max() <= 100 * (1 + share) / 2 + 3
        elif placement == "bimodal":
            assert ((depths < 100 * share / 2 + 3) | (depths > 100 * (1 - share / 2) - 3)).all()
            assert (depths < 50).sum() > 0 and (depths > 50).sum() > 0
        else:
            assert np.histogram(depths, bins=4, range=(0, 100))[0].min() > 0


@pytest.fixture(scope="module")
def holo(tmp_path_factory):
    spec = load_spec(None, generator="holobench", tasks=TASKS, lengths="8k", samples=2, difficulty="hard")
    out = build(spec, tmp_path_factory.mktemp("holo") / "ds")
    return make_generator(spec), out


def test_hard_queries_validate(holo):
    _, out = holo
    assert validate_directory(out).problems == []
    sqls = [json.loads(r["metadata"])["sql"] for r in _rows(out)]
    assert any("ORDER BY" in s and "LIMIT 5" in s for s in sqls)
    assert any(s.count(" AND ") >= 2 for s in sqls)


def test_no_row_is_duplicated_and_no_overshoot(holo):
    gen, out = holo
    verbal = gen.verbalized()
    for row in _rows(out):
        for table in verbal.values():
            parsed = table.parse(row["input"])
            assert len(parsed) == len(set(parsed))
        assert row["target_length"] - 16 <= row["prompt_length"] + row["reserve"] <= row["target_length"]


def test_oracle_rejects_missing_row(holo):
    gen, out = holo
    row = _rows(out, "holo_aggregate")[0]
    placed = json.loads(row["metadata"])["relevant_rows"]  # columns: one list per field
    start, end = placed["char_offset"][3], placed["char_end"][3]
    row["input"] = row["input"][:start] + row["input"][end + 1 :]
    assert any("missing" in p for p in validate_row(row, gen, gen.tokenizer))


def test_oracle_rejects_duplicated_row(holo):
    gen, out = holo
    row = _rows(out, "holo_filter")[0]
    placed = json.loads(row["metadata"])["relevant_rows"]
    sentence = row["input"][placed["char_offset"][0] : placed["char_end"][0]]
    row["input"] = row["input"].replace(sentence, sentence + " " + sentence, 1)
    assert any("more than once" in p for p in validate_row(row, gen, gen.tokenizer))


def test_oracle_rejects_wrong_aggregate(holo):
    gen, out = holo
    row = _rows(out, "holo_aggregate")[1]
    row["answers"] = [str(float(row["answers"][0]) + 1)]
    assert any("answers differ" in p for p in validate_row(row, gen, gen.tokenizer))


def test_oracle_rejects_tie_at_limit_cut_off(holo):
    from longsynth.generators.holobench.databases import text_value
    from longsynth.generators.holobench.engines import run_sqlite

    gen, out = holo
    row = next(r for r in _rows(out, "holo_extreme") if "LIMIT" in json.loads(r["metadata"])["sql"])
    meta = json.loads(row["metadata"])
    table = next(iter(meta["rows"]))
    verbal = gen.verbalized()[table]
    columns = verbal.table.columns
    parsed = verbal.parse(row["input"])
    ranked = run_sqlite(meta["sql"].replace("SELECT ", "SELECT *, ", 1), {table: (columns, parsed)})
    kth = ranked[meta["limit"] - 1][: len(columns)]  # the last row inside the cut-off
    # A new row equal to it but for its id and a label that sorts after it: a tie at the cut-off.
    label = columns.index(verbal.table.label_column)
    twin = tuple(
        10**6 if c.role == "key" else ("Zz" + v if n == label else v)
        for n, (c, v) in enumerate(zip(columns, kth, strict=True))
    )
    text = verbal.shapes[0]
    for n, (c, v) in enumerate(zip(columns, twin, strict=True)):
        text = text.replace(f"\x00C{n}\x00", text_value(v, c.kind))
    start = meta["context_span"][0]
    row["input"] = row["input"][:start] + text + " " + row["input"][start:]
    problems = validate_row(row, gen, gen.tokenizer)
    assert any("tie at the LIMIT" in p for p in problems)


# ------------------------------------------------------------------ user databases and knobs


def test_user_csv_database_with_template(tmp_path):
    folder = tmp_path / "zoo"
    folder.mkdir()
    animals = pl.DataFrame(
        {
            "animal_id": list(range(1, 301)),
            "name": [f"Animal{n}" for n in range(1, 301)],
            "species": [["lion", "otter", "heron", "lynx", "yak"][n % 5] for n in range(300)],
            "weight": [10 + (n * 37) % 200 for n in range(300)],
        }
    )
    keepers = pl.DataFrame(
        {
            "keeper_id": list(range(1, 301)),
            "keeper_name": [f"Keeper{n}" for n in range(1, 301)],
            "animal_id": [(n * 7) % 300 + 1 for n in range(300)],
            "years": [(n * 3) % 25 for n in range(300)],
        }
    )
    animals.write_csv(folder / "animals.csv")
    keepers.write_csv(folder / "keepers.csv")
    pl.DataFrame(
        {
            "visit_id": list(range(1, 601)),
            "visitor": [f"Visitor{n}" for n in range(600)],
            "tickets": [n % 9 + 1 for n in range(600)],
        }
    ).write_parquet(folder / "visits.parquet")
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "animals.j2").write_text(  # two frames: each row is stated in one, chosen from the seed
        "Animal {{ animal_id }} is {{ name }}, a {{ species }} weighing {{ weight }} kilograms.\n"
        "Weighing {{ weight }} kg, the {{ species }} {{ name }} is animal number {{ animal_id }}.\n"
    )
    spec = load_spec(
        None,
        generator="holobench",
        tasks="holo_filter,holo_group,holo_join",
        lengths="4k",
        samples=2,
        database=str(folder),
        row_templates=str(templates),
        info_density=0.6,
    )
    out = build(spec, tmp_path / "out")
    assert validate_directory(out).problems == []
    text = " ".join(r["input"] for r in _rows(out))
    assert "kilograms" in text and "kg, the" in text  # both of the user's frames
    assert "A row of the keepers table has" in text  # the default template for the other table


def test_user_sql_and_question(tmp_path):
    spec = load_spec(
        None,
        generator="holobench",
        tasks="holo_aggregate",
        lengths="4k",
        samples=1,
        sql="SELECT COUNT(*) FROM customers WHERE age > 50",
        question="How many customers are older than fifty?",
    )
    row = _rows(build(spec, tmp_path / "u"))[0]
    assert row["question"] == "How many customers are older than fifty?"
    meta = json.loads(row["metadata"])
    assert row["answers"] == [str(sum(r["age"] > 50 for r in meta["rows"]["customers"]))]


def test_info_amount_sets_relevant_tokens(tmp_path):
    spec = load_spec(
        None, generator="holobench", tasks="holo_filter", lengths="8k", samples=1, info_amount=1500, database="films"
    )
    row = _rows(build(spec, tmp_path / "a"))[0]
    assert 1200 <= json.loads(row["metadata"])["relevant_tokens"] <= 1500


def test_128k_build(tmp_path):
    spec = load_spec(None, generator="holobench", tasks="holo_join", lengths="128k", samples=1, database="university")
    assert validate_directory(build(spec, tmp_path / "big")).problems == []


def test_answer_rows_are_matched_as_tuples():
    answers = ["Lyon | 20", "Oslo | 91.50"]

    def f1(prediction, ordered=False):
        return holobench_scores(prediction, answers, ordered)["f1"]

    assert f1("Lyon | 20\nOslo | 91.5") == 1.0
    assert f1("Let me list them.\nAnswer:\nlyon | 20.0\n- Oslo | 91.500") == 1.0
    assert f1("Lyon | 20") == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert f1("Lyon | 20\nOslo | 91.4\nRome | 3") == pytest.approx(0.4)
    assert f1("Oslo | 91.50\nLyon | 20", ordered=True) == pytest.approx(0.5)
    assert f1("Lyon 20") == 0.0 and f1("") == 0.0 and f1("none") == 0.0
    assert holobench_scores("No answer.", [], False)["f1"] == 1.0
    assert holobench_scores("Lyon | 20", [], False)["f1"] == 0.0


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_user_database_files(tmp_path, kind):
    path = tmp_path / f"shop.{kind}"
    tables = {
        "shops": (
            "shop_id INTEGER, shop_name TEXT, town TEXT",
            [(i, f"Shop{i}", ["Ely", "Ayr", "Rye"][i % 3]) for i in range(1, 201)],
        ),
        "sales": (
            "sale_id INTEGER, shop_id INTEGER, amount DOUBLE",
            [(i, i % 200 + 1, float(i % 50) + 0.25) for i in range(1, 401)],
        ),
        "staff": (
            "staff_id INTEGER, staff_name TEXT, age INTEGER",
            [(i, f"Staff{i}", 20 + i % 40) for i in range(1, 401)],
        ),
    }
    if kind == "sqlite":
        con = sqlite3.connect(path)
    else:
        import duckdb

        con = duckdb.connect(str(path))
    for name, (schema, rows) in tables.items():
        con.execute(f"CREATE TABLE {name} ({schema})")
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    if kind == "sqlite":
        con.commit()
    con.close()
    spec = load_spec(
        None,
        generator="holobench",
        tasks="holo_aggregate,holo_join",
        lengths="4k",
        samples=1,
        database=str(path),
        info_density=0.4,
        # Rows of these tables verbalize to nearly one size (21 tokens), so whole rows reach only some
        # totals: a wider tolerance than 16 tokens keeps every sample fittable.
        length_tolerance=32,
    )
    out = build(spec, tmp_path / "out")
    assert validate_directory(out).problems == []
    join = _rows(out, "holo_join")[0]
    assert "JOIN shops ON sales.shop_id = shops.shop_id" in json.loads(join["metadata"])["sql"]


def test_query_over_every_table_is_a_clear_error(tmp_path):
    from longsynth.errors import CorpusError

    folder = tmp_path / "two"
    folder.mkdir()
    pl.DataFrame({"a_id": [1, 2, 3], "a_name": ["x", "y", "z"], "v": [1, 2, 3]}).write_csv(folder / "a.csv")
    pl.DataFrame({"b_id": [1, 2, 3], "a_id": [1, 2, 3], "w": [4, 5, 6]}).write_csv(folder / "b.csv")
    spec = load_spec(None, generator="holobench", tasks="holo_join", lengths="1k", samples=1, database=str(folder))
    with pytest.raises(CorpusError, match="reads every table"):
        build(spec, tmp_path / "out")


def test_broken_user_row_template_is_a_one_line_error(tmp_path):
    from click.testing import CliRunner

    from longsynth.cli import cli

    folder = tmp_path / "db"
    folder.mkdir()
    for name in ("a", "b"):
        pl.DataFrame({f"{name}_id": [1, 2], "label": ["x", "y"], "v": [1, 2]}).write_csv(folder / f"{name}.csv")
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "a.j2").write_text("Row {{ a_id }} has {{ no_such_column }}.")
    result = CliRunner().invoke(
        cli,
        [
            "build",
            "--generator",
            "holobench",
            "--lengths",
            "1k",
            "--set",
            f"database={folder}",
            "--set",
            f"row_templates={templates}",
            "-o",
            str(tmp_path / "o"),
        ],
        obj={},
    )
    assert result.exit_code == 2
    assert "error: template 'a.j2' failed to render" in result.output and "no_such_column" in result.output


def test_relevant_rows_are_columns_that_match_the_text(holo):
    """Hundreds of placed rows are stored as columns; each span holds its table's sentence, and the
    neighbour spans are the filler units beside it."""
    gen, out = holo
    verbal = gen.verbalized()
    for row in _rows(out):
        placed = json.loads(row["metadata"])["relevant_rows"]
        count = len(placed["char_offset"])
        assert count == len(row["depths"]) and all(len(column) == count for column in placed.values())
        assert placed["depth"] == row["depths"]
        for n in range(count):
            sentence = row["input"][placed["char_offset"][n] : placed["char_end"][n]]
            assert verbal[placed["table"][n]].regex.fullmatch(sentence)
            for side in ("before", "after"):
                start, end = placed[side][n]
                if start >= 0:
                    assert row["input"][start:end].strip() and " " not in (row["input"][start], row["input"][end - 1])


def test_oracle_rejects_a_duplicated_filler_row(holo):
    """A row of a table the query does not read, repeated, is caught too (found by its unique first
    value: the scan stops after it)."""
    gen, out = holo
    row = _rows(out, "holo_filter")[0]
    meta = json.loads(row["metadata"])
    verbal = gen.verbalized()
    filler = next(name for name in verbal if name not in meta["rows"])
    assert verbal[filler].key_regex is not None
    sentence = verbal[filler].regex.search(row["input"][meta["context_span"][0] :]).group(0)
    assert validate_row(row, gen, gen.tokenizer) == []
    row["input"] = row["input"].replace(sentence, sentence + " " + sentence, 1)
    assert any(f"table {filler}: a row appears more than once" in p for p in validate_row(row, gen, gen.tokenizer))


def test_oracle_compares_the_rows_found_with_the_rows_placed_as_a_multiset(holo):
    """A relevant row left out of the text or stated twice is caught; equal rows placed twice and
    stated twice are only reported as stated twice (each found as often as placed)."""
    from longsynth.generators.holobench.oracle import rows_as_placed

    gen, out = holo
    row = _rows(out, "holo_filter")[0]
    meta = json.loads(row["metadata"])
    (table,) = meta["rows"]
    placed = meta["rows"][table]
    text = row["input"]
    sentence = gen.verbalized()[table].regex.search(text[meta["context_span"][0] :]).group(0)
    assert rows_as_placed(gen, row, meta) == []
    removed = {**row, "input": text.replace(sentence, "", 1)}
    assert rows_as_placed(gen, removed, meta) == [
        f"table {table}: 1 relevant rows missing from the text, {len(placed) - 1} found for {len(placed)} placed"
    ]
    twice = {**row, "input": text.replace(sentence, sentence + " " + sentence, 1)}
    problems = rows_as_placed(gen, twice, meta)
    assert problems[0] == f"table {table}: a row appears more than once in the text"
    count = f"{len(placed) + 1} found for {len(placed)} placed"
    assert problems[1] == f"table {table}: 0 relevant rows missing from the text, {count}"
    parsed = gen.verbalized()[table].parse(sentence)[0]
    columns = [c.name for c in gen.verbalized()[table].table.columns]
    doubled = {**meta, "rows": {table: [*placed, dict(zip(columns, parsed, strict=True))]}}
    assert rows_as_placed(gen, twice, doubled) == [f"table {table}: a row appears more than once in the text"]


def test_user_template_folder_overrides_a_built_in_row_template(tmp_path):
    """`--template-dir DIR` with `DIR/holobench/retail/customers.j2`, as before families had folders."""
    folder = tmp_path / "tpl" / "holobench" / "retail"
    folder.mkdir(parents=True)
    (folder / "customers.j2").write_text(
        "Client {{ customer_id }}: {{ name }} of {{ city }}, aged {{ age }}, joined {{ signup_year }}.\n"
    )
    spec = load_spec(
        None, generator="holobench", tasks="holo_filter", lengths="2k", samples=2, template_dir=str(tmp_path / "tpl")
    )
    out = build(spec, tmp_path / "h")
    assert validate_directory(out).problems == []
    text = "".join(t for p in sorted(out.rglob("*.parquet")) for t in pl.read_parquet(p)["input"].to_list())
    assert "Client " in text and "Customer number" not in text


@pytest.mark.parametrize("database", ["retail", "university", "films"])
def test_scores_cannot_be_gamed_and_correct_answers_score_1(database, tmp_path):
    tasks = "holo_filter,holo_aggregate,holo_group,holo_extreme,holo_join"
    spec = load_spec(None, generator="holobench", tasks=tasks, lengths="4k", samples=2, database=database)
    rows = _rows(build(spec, tmp_path / database))
    assert {r["task"] for r in rows} == set(tasks.split(","))
    for row in rows:
        gold = "\n".join(row["answers"])
        metadata = json.loads(row["metadata"])
        records = " ".join(row["input"][start:end] for start, end in zip(*_spans(metadata), strict=True))
        assert scoring.score(row, gold) == 1.0
        assert scoring.score(row, f"First I find the matching records.\nAnswer:\n{gold}") == 1.0
        assert scoring.score(row, row["input"]) <= 0.1  # echoing the context
        assert scoring.score(row, " ".join(str(n) for n in range(301))) <= 0.1  # number spam
        assert scoring.score(row, f"{records}\nAnswer: none") <= 0.1  # the right records, then no answer


def _spans(metadata):
    rows = metadata["relevant_rows"]
    return rows["char_offset"], rows["char_end"]


def test_questions_say_what_is_true(tmp_path):
    """Tie orders name the real order, no column repeats its table's name, no sum of a GPA or a
    price, and no row states "1 units" (plurals that numbers cannot agree with are avoided)."""
    tasks = "holo_filter,holo_aggregate,holo_group,holo_extreme,holo_join"
    questions, texts = [], []
    for database in ("retail", "university", "films"):
        for difficulty in ("medium", "hard"):
            spec = load_spec(
                None,
                generator="holobench",
                tasks=tasks,
                lengths="4k",
                samples=2,
                database=database,
                difficulty=difficulty,
            )
            for row in _rows(build(spec, tmp_path / f"{database}-{difficulty}")):
                questions.append(row["question"])
                texts.append(row["input"])
                if "ORDER BY" in json.loads(row["metadata"])["sql"] and "_id ASC" in json.loads(row["metadata"])["sql"]:
                    assert "alphabetical order of" not in row["question"] or "id" not in row["question"]
    for question in questions:
        assert not re.search(r"\b(\w+)'s \1\b", question), question
        assert not re.search(r"total (GPA|price|age|grade|rating|score)", question), question
        assert "alphabetical order of order id" not in question
    assert not any(re.search(r"\b1 (units|credits|awards)\b", text) for text in texts)


def test_every_built_in_table_states_its_rows_in_five_frames(tmp_path):
    spec = load_spec(None, generator="holobench", tasks="holo_filter", lengths="16k", samples=2, database="films")
    out = build(spec, tmp_path / "f")
    assert validate_directory(out).problems == []
    gen = make_generator(spec)
    text = " ".join(r["input"] for r in _rows(out))
    for name, table in gen.verbalized().items():
        assert len(table.shapes) >= 5, name
        frames_seen = {b for b, shape in enumerate(table.shapes) if shape.split("\x00")[0] in text}
        assert len(frames_seen) == len(table.shapes), (name, frames_seen)


def test_answer_regime_knobs(tmp_path):
    """`empty_share` asks filter and join questions with no answer; `max_answer_rows` caps the rest."""
    spec = load_spec(
        None, generator="holobench", tasks="holo_filter,holo_join", lengths="4k", samples=3, empty_share=1.0
    )
    out = build(spec, tmp_path / "empty")
    assert validate_directory(out).problems == []
    for row in _rows(out):
        metadata = json.loads(row["metadata"])
        assert row["answers"] == [] and metadata["answer_rows"] == 0 and metadata["empty_by_design"]
        assert scoring.score(row, "none") == 1.0 and scoring.score(row, "Lyon | 20") == 0.0
    capped = load_spec(
        None, generator="holobench", tasks="holo_filter,holo_join", lengths="8k", samples=3, max_answer_rows=4
    )
    rows = _rows(build(capped, tmp_path / "capped"))
    assert all(1 <= len(r["answers"]) <= 4 for r in rows)


def test_by_default_answers_grow_and_each_row_reserves_room_for_its_own(tmp_path):
    """No cap on answers (as in the paper): at 16K medium filter and join answers (two conditions; a
    lone condition selects at most 25 rows) reach beyond 25 rows, and such a row keeps its answer's
    tokens (re-measured here) and more for the reply, within the length contract."""
    spec = load_spec(
        None, generator="holobench", tasks="holo_filter,holo_join", lengths="16k", samples=6, difficulty="medium"
    )
    out = build(spec, tmp_path / "grown")
    assert validate_directory(out).problems == []
    gen = make_generator(spec)
    rows = _rows(out)
    assert max(len(r["answers"]) for r in rows) > 25
    for row in rows:
        answer = gen.tokenizer.count("\n".join(row["answers"]))
        assert row["reserve"] == max(512, answer + 64)
        assert json.loads(row["metadata"])["answer_rows"] == len(row["answers"])
        assert row["target_length"] - 32 <= row["prompt_length"] + row["reserve"] <= row["target_length"]
    assert any(r["reserve"] > 512 for r in rows)


def test_large_answers_must_fit_the_reserve(tmp_path):
    """With the cap raised, a query whose answer outgrows the reply reserve is not asked, and the oracle
    flags a row whose answer does not fit (answer tokens re-measured here)."""
    spec = load_spec(
        None,
        generator="holobench",
        tasks="holo_filter",
        lengths="32k",
        samples=4,
        max_answer_rows=400,
        reserve=256,
        difficulty="medium",
    )
    out = build(spec, tmp_path / "big")
    assert validate_directory(out).problems == []
    gen = make_generator(spec)
    rows = _rows(out)
    sizes = [gen.tokenizer.count("\n".join(r["answers"])) for r in rows]
    assert all(size <= 256 for size in sizes) and max(len(r["answers"]) for r in rows) > 12
    tight = {**rows[0], "reserve": sizes[0] - 1}
    assert any("reserved for it" in p for p in validate_row(tight, gen, gen.tokenizer))


def test_custom_sql_answer_longer_than_the_reserve_is_refused(tmp_path):
    from longsynth.errors import BudgetError

    spec = load_spec(
        None,
        generator="holobench",
        lengths="8k",
        samples=1,
        reserve=8,
        sql="SELECT name, city FROM customers",
        question="List every customer and city.",
    )
    with pytest.raises(BudgetError, match="--set reserve=N"):
        build(spec, tmp_path / "sql")


def test_a_database_folder_reads_its_own_files_not_links_out(tmp_path):
    """A CSV folder from someone else: a link in it pointing outside (at a secret) is not a table."""
    from longsynth.generators.holobench.databases import load_user_database

    folder = tmp_path / "db"
    folder.mkdir()
    (folder / "pets.csv").write_text("pet_id,name\n1,rex\n2,tom\n")
    (tmp_path / "outside.csv").write_text("secret_id,secret\n1,TOPSECRET\n")
    (folder / "secrets.csv").symlink_to(tmp_path / "outside.csv")
    assert sorted(load_user_database(str(folder)).tables) == ["pets"]


def test_questions_a_shortcut_cannot_answer(tmp_path):
    """A lone condition keeps at most 25 rows (whatever max_answer_rows allows); an aggregate always has
    a condition, so COUNT is not fixed by the length; an easy MAX/MIN is never the whole table's
    extreme (a bound read off the schema); and no (question, gold) pair repeats."""
    from longsynth.generators.holobench.databases import database_for, database_key

    spec = load_spec(
        None, generator="holobench", tasks="holo_filter,holo_aggregate,holo_extreme", lengths="8k", samples=30
    )
    rows = _rows(build(spec, tmp_path / "ds"))
    db = database_for(database_key("retail"))
    pairs = [(r["question"], tuple(r["answers"])) for r in rows]
    assert len(set(pairs)) == len(pairs)
    for row in rows:
        meta = json.loads(row["metadata"])
        if row["task"] == "holo_filter":
            assert meta["sql"].count(" WHERE ") == 1 and " AND " not in meta["sql"] and len(row["answers"]) <= 25
        if row["task"] == "holo_aggregate":
            assert " WHERE " in meta["sql"]
        if row["task"] == "holo_extreme":
            kind, column = re.match(r"SELECT (MAX|MIN)\((\w+)\) FROM (\w+)", meta["sql"]).group(1, 2)
            table = db.tables[meta["sql"].split(" FROM ")[1].split()[0]]
            at = [c.name for c in table.columns].index(column)
            values = [r[at] for r in table.rows if r[at] is not None]
            bound = max(values) if kind == "MAX" else min(values)
            assert float(row["answers"][0]) != float(bound), meta["sql"]


def test_anchor_is_holobench_judges_rule(tmp_path):
    """HoloBench's judge counts gold rows matched exactly and does not count extra rows; ours (F1) does."""
    from longsynth.scoring import anchor_score, score

    spec = load_spec(None, generator="holobench", tasks="holo_filter", lengths="8k", samples=4)
    for row in _rows(build(spec, tmp_path / "ds")):
        gold = "\n".join(row["answers"])
        assert score(row, gold) == 1.0 and anchor_score(row, gold) == 1.0
        padded = gold + "\nSomebody Else | 1\nAnother One | 2\nA Third | 3"
        assert anchor_score(row, padded) == 1.0 and score(row, padded) < 1.0
        half = "\n".join(row["answers"][: max(1, len(row["answers"]) // 2)])
        assert anchor_score(row, half) == pytest.approx(max(1, len(row["answers"]) // 2) / len(row["answers"]))


def test_a_row_whose_metadata_holds_no_query_is_scored_as_damaged(holo):
    """Scoring reads whether the row's query orders its result from its metadata: a row whose metadata
    holds no query (edited by someone else) is a one-line damaged-row error naming the row (the shared
    `scoring.reading_row`), not a KeyError."""
    from longsynth.errors import DamagedOutput

    _, out = holo
    row = _rows(out, "holo_filter")[0]
    assert scoring.score(row, "\n".join(row["answers"])) == 1.0
    for metadata in ("{}", '{"sql": 7}'):
        with pytest.raises(DamagedOutput, match=f"row {row['id']!r}: its metadata holds what its family does not read"):
            scoring.score({**row, "metadata": metadata}, "anything")
