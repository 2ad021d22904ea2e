"""Hostile input, table-driven: specs, flags, files, corpora, templates, databases, SQL, output
paths and tampered folders, over every subcommand and family.

Each case runs the real command line (in process) from a scratch folder, with the cache in that
folder, and asserts: the exit code; on exit 2, exactly one `error:` line on stderr naming the cause;
no traceback; a bounded time; and no file created or changed outside the output folder and the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from longsynth.cli import cli

SECONDS = 60  # far above any case; a hang or minutes of work is the defect this catches
SMALL = ["--lengths", "1k", "--samples", "1"]
KINSHIP = "tpl/needlebench/kinship.j2"
KINSHIP_IN_PROSE = ["build", "--generator", "needlebench", "--task", "ancestral_trace", "--set", "haystack=prose"]
KINSHIP_IN_PROSE += ["--lengths", "4k", "--samples", "3", "--template-dir", "tpl", "-o", "out"]
# Ten nested levels of ten aliases each: 10^10 values once expanded (a spec that hung the build).
LAUGHS = "&a [x, x, x, x, x, x, x, x, x, x]"
for _prev, _level in zip("abcdefgh", "bcdefghi", strict=True):
    LAUGHS = f"&{_level} [{LAUGHS}" + f", *{_prev}" * 9 + "]"


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    says: str = ""  # a fragment of the error line (exit 2) or of the output (exit 1)
    prepare: Callable[[Path], None] | None = None  # writes inputs into the scratch folder
    built: Callable[[Path], None] | None = None  # tampers with a copy of a small build at ./built
    env: dict[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # absolute paths that must not exist afterwards


def write(name: str, text: str) -> Callable[[Path], None]:
    def prepare(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    return prepare


def sqlite_db(root: Path) -> None:
    con = sqlite3.connect(root / "db.sqlite")
    con.execute("CREATE TABLE pets (pet_id INTEGER, name TEXT, age INTEGER)")
    con.executemany("INSERT INTO pets VALUES (?, ?, ?)", [(i, f"pet{i}", i % 13) for i in range(400)])
    con.execute("CREATE TABLE owners (owner_id INTEGER, name TEXT)")
    con.executemany("INSERT INTO owners VALUES (?, ?)", [(i, f"owner{i}") for i in range(400)])
    con.commit()
    con.close()


def duckdb_with_a_leaking_view(root: Path) -> None:
    import duckdb

    con = duckdb.connect(str(root / "db.duckdb"))
    con.execute("CREATE TABLE pets AS SELECT range AS pet_id, 'pet' || range AS name FROM range(300)")
    con.execute("CREATE VIEW leak AS SELECT * FROM read_csv('/etc/hostname')")
    con.close()


def rewrite_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        change(manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest))

    return tamper


def first_shard(folder: Path) -> Path:
    return sorted(folder.glob("*/*.parquet"))[0]


def rewrite_first_shard(folder: Path, frame) -> None:
    """Write `frame` over the folder's first shard and update the manifest's hash of it: an edit that
    the manifest's checks no longer see (someone else's folder, edited and rehashed)."""
    shard = first_shard(folder)
    frame.write_parquet(shard)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][str(shard.relative_to(folder))] = hashlib.sha256(shard.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def truncate_first_shard(folder: Path) -> None:
    shard = first_shard(folder)
    shard.write_bytes(shard.read_bytes()[:500])


def drop_a_row_and_refix_its_hash(folder: Path) -> None:
    import polars as pl

    shard = first_shard(folder)
    pl.read_parquet(shard).head(-1).write_parquet(shard)
    manifest = json.loads((folder / "manifest.json").read_text())
    name = str(shard.relative_to(folder))
    manifest["files"][name] = hashlib.sha256(shard.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def list_outside_file(name: str) -> Callable[[Path], None]:
    return rewrite_manifest(lambda m: m["files"].update({name: "0" * 64}))


SQL = ["--generator", "holobench", "--lengths", "2k", "--samples", "1", "--set", "database=db.sqlite"]
QUESTION = ["--set", "question=Which pets?"]


def _tampered_prose_pool(root: Path) -> None:
    """Make this scratch cache's prose pool for a 1K build, then replace it with a file of the right
    name and the wrong shape (counts that are not numbers)."""
    from longsynth.text import sources

    sources.prose_pool.cache_clear()
    sources.prose_pool("cl100k_base", sources.prose_reach(1024), "en")
    sources.prose_pool.cache_clear()  # the build reads the file again
    entries = list((root / "cache" / "json").glob("prose-pool-*.json"))
    assert entries, "no prose pool was cached to tamper with"
    for entry in entries:
        entry.write_text('{"texts": ["x"], "tokens": ["not a count"]}')


def sql_case(name: str, sql: str, says: str, absent: tuple[str, ...] = ()) -> Case:
    return Case(name, ["build", *SQL, "--set", f"sql={sql}", *QUESTION, "-o", "out"], 2, says, sqlite_db, absent=absent)


CASES = [
    # --- build flags: lengths, depths, samples, seeds, tasks, generators, tokenizers
    Case("huge length", ["build", "--lengths", "999999999", "-o", "out"], 2, "the most longsynth builds"),
    Case("zero length", ["build", "--lengths", "0", "-o", "out"], 2, "must be positive"),
    Case("negative length", ["build", "--lengths=-5", "-o", "out"], 2, "not a whole number"),
    Case("length with unit q", ["build", "--lengths", "4q", "-o", "out"], 2, "not a whole number"),
    Case("empty lengths", ["build", "--lengths", ",", "-o", "out"], 2, "lengths is empty"),
    Case("length twice", ["build", "--lengths", "4k,4096", "-o", "out"], 2, "lists 4096 twice"),
    Case(
        "too many lengths",
        ["build", "--lengths", ",".join(str(n) for n in range(500, 565)), "-o", "out"],
        2,
        "at most 64",
    ),
    Case("hundred million depths", ["build", "--depths", "linspace:0,100,100000000", "-o", "out"], 2, "at most 1001"),
    Case("depth twice", ["build", "--depths", "50,50", "-o", "out"], 2, "lists 50 twice"),
    Case("depths equal in ids", ["build", "--depths", "50,50.0000001", "-o", "out"], 2, "twice"),
    Case("depth over 100", ["build", "--depths", "0,150", "-o", "out"], 2, "outside 0..100"),
    Case("depth nan", ["build", "--depths", "nan", "-o", "out"], 2, "outside 0..100"),
    Case("linspace past 100", ["build", "--depths", "linspace:0,200,5", "-o", "out"], 2, "outside 0..100"),
    Case("linspace without count", ["build", "--depths", "sigmoid:0,100", "-o", "out"], 2, "START,END,COUNT"),
    Case("linspace zero count", ["build", "--depths", "linspace:0,100,0", "-o", "out"], 2, "COUNT must be"),
    Case("unknown spacing", ["build", "--depths", "cubic:0,100,5", "-o", "out"], 2, "unknown spacing"),
    Case("samples not a number", ["build", "--samples", "abc", "-o", "out"], 2, "not a valid integer"),
    Case("zero samples", ["build", "--samples", "0", "-o", "out"], 2, "at least 1"),
    Case("ten million samples", ["build", "--samples", "10000000", "-o", "out"], 2, "at most 1000000"),
    Case(
        "too many cells",
        ["build", "--depths", "linspace:0,100,1001", "--samples", "100000", "-o", "out"],
        2,
        "split the build",
    ),
    Case("negative seed", ["build", "--seed", "-1", "-o", "out"], 2, "at least 0"),
    Case("seed beyond 63 bits", ["build", "--seed", "99999999999999999999999", "-o", "out"], 2, "at most"),
    Case("task list of commas", ["build", "--task", ",", "-o", "out"], 2, "names no task"),
    Case("unknown task", ["build", "--task", "niah_nope", "-o", "out"], 2, "unknown task 'niah_nope'"),
    Case("task twice", ["build", "--task", "niah_single_1,niah_single_1", "-o", "out"], 2, "a task twice"),
    Case("unknown generator", ["build", "--generator", "haystacker", "-o", "out"], 2, "unknown generator"),
    Case("unknown tokenizer", ["build", "--tokenizer", "gpt9", "-o", "out"], 2, "unknown tokenizer 'gpt9'"),
    Case(
        "hf tokenizer offline",
        ["build", "--tokenizer", "hf:someone/no-such-tokenizer", "-o", "out"],
        2,
        "could not be loaded",
    ),
    Case(
        "hf tokenizer missing path", ["build", "--tokenizer", "hf:/no/such/dir", "-o", "out"], 2, "could not be loaded"
    ),
    Case(
        "hf tokenizer, no network",
        ["build", "--tokenizer", "hf:someone/no-such-tokenizer", "-o", "out"],
        2,
        "127.0.0.1 cannot be reached",
        env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": "http://127.0.0.1:9"},
    ),
    Case("bad threads", ["build", "--threads", "0", "-o", "out"], 2, "--threads"),
    Case("bad workers", ["build", "--workers", "0", "-o", "out"], 2, "--workers"),
    Case("a million workers", ["build", "--workers", "1000000", "-o", "out"], 2, "--workers"),
    Case("unknown backend", ["build", "--backend", "spark", "-o", "out"], 2, "--backend"),
    Case("unknown format flag", ["build", "--format", "xml", "-o", "out"], 2, "--format"),
    # --- --set: spec fields and options
    Case("negative keys", ["build", "--set", "num_keys=-1", "-o", "out"], 2, "num_keys must be at least 1"),
    Case("unknown option", ["build", "--set", "colour=blue", "-o", "out"], 2, "unknown spec field 'colour'"),
    Case("billion values", ["build", "--set", "num_values=1000000000", "-o", "out"], 2, "num_values must be at most"),
    Case("queries over keys", ["build", "--set", "num_queries=3", "-o", "out"], 2, "exceeds num_keys"),
    Case("needles cannot fit", ["build", "--lengths", "4k", "--set", "num_keys=5000", "-o", "out"], 2, "cannot fit"),
    Case("corpus haystack without corpus", ["build", "--set", "haystack=corpus", "-o", "out"], 2, "needs --set corpus"),
    Case(
        "missing corpus",
        ["build", "--set", "haystack=corpus", "--set", "corpus=nope.jsonl", "-o", "out"],
        2,
        "does not exist",
    ),
    Case("unknown haystack", ["build", "--set", "haystack=lava", "-o", "out"], 2, "haystack must be one of"),
    Case("unknown key type", ["build", "--set", "key_type=emoji", "-o", "out"], 2, "key_type must be one of"),
    Case("zero rows per shard", ["build", "--set", "rows_per_shard=0", "-o", "out"], 2, "at least 1"),
    Case("negative shard bytes", ["build", "--set", "max_shard_bytes=-1", "-o", "out"], 2, "at least 0"),
    Case("thousand attempts", ["build", "--set", "max_attempts=1000", "-o", "out"], 2, "at most 100"),
    Case("negative tolerance", ["build", "--set", "length_tolerance=-3", "-o", "out"], 2, "at least 0"),
    Case("unknown format field", ["build", "--set", "formats=xml", "-o", "out"], 2, "unknown format 'xml'"),
    Case("version as a list", ["build", "--set", "version=[1, 2]", "-o", "out"], 2, "version must be text"),
    Case("set without a key", ["build", "--set", "=x", "-o", "out"], 2, "expected key=value"),
    Case("set without a value", ["build", "--set", "novalue", "-o", "out"], 2, "expected key=value"),
    Case(
        "boolean option not boolean",
        ["build", "--generator", "nextlong", "--set", "input_ids=maybe", "-o", "out"],
        2,
        "true or false",
    ),
    # --- spec files
    Case("missing spec file", ["build", "nope.yaml", "-o", "out"], 2, "does not exist"),
    Case("invalid yaml", ["build", "s.yaml", "-o", "out"], 2, "not valid YAML", write("s.yaml", "tasks: [a\n")),
    Case("yaml list", ["build", "s.yaml", "-o", "out"], 2, "must be a mapping", write("s.yaml", "- a\n- b\n")),
    Case("yaml task numbers", ["build", "s.yaml", "-o", "out"], 2, "unknown task '1'", write("s.yaml", "tasks: [1]\n")),
    Case(
        "yaml options scalar",
        ["build", "s.yaml", "-o", "out"],
        2,
        "options must be a mapping",
        write("s.yaml", "options: 5\n"),
    ),
    Case(
        "yaml lengths mapping",
        ["build", "s.yaml", "-o", "out"],
        2,
        "lengths must be a list",
        write("s.yaml", "lengths: {a: 1}\n"),
    ),
    Case(
        "yaml nested depths",
        ["build", "s.yaml", "-o", "out"],
        2,
        "not a plain value",
        write("s.yaml", "depths: [[1]]\n"),
    ),
    Case(
        "yaml fractional samples",
        ["build", "s.yaml", "-o", "out"],
        2,
        "whole number",
        write("s.yaml", "samples: 1.5\n"),
    ),
    Case("yaml boolean seed", ["build", "s.yaml", "-o", "out"], 2, "whole number", write("s.yaml", "seed: true\n")),
    Case(
        "yaml generator list",
        ["build", "s.yaml", "-o", "out"],
        2,
        "generator must be text",
        write("s.yaml", "generator: [needle]\n"),
    ),
    Case("yaml non-text key", ["build", "s.yaml", "-o", "out"], 2, "field names are text", write("s.yaml", "1: 2\n")),
    Case(
        "yaml python tag runs nothing",
        ["build", "s.yaml", "-o", "out"],
        2,
        "YAML tags (tag:yaml.org,2002:python/object/apply:os.system) are not allowed",
        write("s.yaml", '!!python/object/apply:os.system ["touch pwned"]\n'),
    ),
    Case(
        "yaml alias bomb",
        ["build", "s.yaml", "-o", "out"],
        2,
        "YAML aliases (*name) are not allowed (line 2)",
        write(
            "s.yaml",
            "a: &a [x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b]\ntasks: [*c,*c]\n",
        ),
    ),
    # --- longbio
    Case(
        "longbio density",
        ["build", "--generator", "longbio", "--set", "density=1.5", "-o", "out"],
        2,
        "density must be at most 1",
    ),
    Case(
        "longbio people",
        ["build", "--generator", "longbio", "--set", "num_people=3", "-o", "out"],
        2,
        "num_people must be one of",
    ),
    Case(
        "longbio shots",
        ["build", "--generator", "longbio", "--set", "shots=1000", "-o", "out"],
        2,
        "shots must be at most 50",
    ),
    Case(
        "longbio attribute",
        ["build", "--generator", "longbio", "--set", "attribute=shoe", "-o", "out"],
        2,
        "attribute must be one of",
    ),
    Case(
        "longbio depth range",
        [
            "build",
            "--generator",
            "longbio",
            "--task",
            "bio_rank",
            "--set",
            "depth_min=80",
            "--set",
            "depth_max=20",
            "-o",
            "out",
        ],
        2,
        "depth_min and depth_max",
    ),
    Case(
        "longbio idk shots",
        ["build", "--generator", "longbio", "--task", "bio_idk", "--set", "shots=1", "-o", "out"],
        2,
        "shots has no effect here",
    ),
    # --- holobench: databases and SQL
    Case(
        "missing database",
        ["build", "--generator", "holobench", "--set", "database=none.sqlite", "-o", "out"],
        2,
        "does not exist",
    ),
    sql_case("sql copy overwrites nothing", "COPY pets TO 'victim.txt'", "not a SELECT (it is COPY)"),
    sql_case("sql copy query writes nothing", "COPY (SELECT * FROM pets) TO 'leak.csv'", "not a SELECT (it is COPY)"),
    sql_case("sql reads no file", "SELECT * FROM read_csv('/etc/hostname')", "reads no table"),
    sql_case(
        "sql join with a file",
        "SELECT p.name FROM pets p, read_csv('/etc/hostname') h",
        "file system operations are disabled",
    ),
    sql_case("sql attach", "ATTACH 'other.db' AS other", "not a SELECT (it is ATTACH)"),
    sql_case("sql pragma", "PRAGMA database_list", "not a SELECT (it is PRAGMA)"),
    sql_case("sql drop", "DROP TABLE pets", "not a SELECT (it is DROP)"),
    sql_case("sql two statements", "SELECT name FROM pets; SELECT 1", "2 statements"),
    sql_case("sql syntax", "SELEC name FROM pets", "could not be parsed"),
    sql_case("sql unknown table", "SELECT name FROM dogs", "does not have"),
    sql_case(
        "sql export to absolute path",
        "COPY pets TO '/tmp/longsynth-hostile-leak.csv'",
        "it is COPY",
        ("/tmp/longsynth-hostile-leak.csv",),
    ),
    Case(
        "sql without question",
        ["build", *SQL, "--set", "sql=SELECT name FROM pets", "-o", "out"],
        2,
        "go together",
        sqlite_db,
    ),
    Case(
        "malformed csv database",
        ["build", "--generator", "holobench", "--set", "database=db", "-o", "out"],
        2,
        "could not be read",
        write("db/pets.csv", 'id,name\n1,"a\n2,b,c,d\n'),
    ),
    Case(
        "empty database folder",
        ["build", "--generator", "holobench", "--set", "database=db", "-o", "out"],
        2,
        "holds no .csv",
        write("db/readme.md", "x"),
    ),
    Case(
        "garbage sqlite file",
        ["build", "--generator", "holobench", "--set", "database=db.sqlite", "-o", "out"],
        2,
        "could not be read",
        write("db.sqlite", "not a database" * 100),
    ),
    Case(
        "duckdb view reading a file",
        ["build", "--generator", "holobench", "--set", "database=db.duckdb", "-o", "out"],
        2,
        "file system operations are disabled",
        duckdb_with_a_leaking_view,
    ),
    Case(
        "zero info density",
        ["build", "--generator", "holobench", "--set", "info_density=0", "-o", "out"],
        2,
        "greater than 0",
    ),
    Case(
        "huge info amount",
        ["build", "--generator", "holobench", "--set", "info_amount=99999999", "-o", "out"],
        2,
        "info_amount must be at most",
    ),
    Case(
        "unknown placement",
        ["build", "--generator", "holobench", "--set", "placement=sideways", "-o", "out"],
        2,
        "placement must be one of",
    ),
    Case(
        "missing row templates",
        ["build", *SQL, "--set", "row_templates=nope", "-o", "out"],
        2,
        "is not a folder",
        sqlite_db,
    ),
    Case(
        "a row template that filters a column",
        ["build", *SQL, "--set", "row_templates=rows", "-o", "out"],
        2,
        "must print {{ pet_id }}, {{ name }}, {{ age }} as they are",
        lambda root: (
            sqlite_db(root),
            write("rows/pets.j2", "Pet {{ pet_id }} is {{ name|title }}, aged {{ age }}.")(root),
        ),
    ),
    Case(
        "a reasoning link that tests a name",
        [
            "build",
            "--generator",
            "needlebench",
            "--task",
            "multi_reasoning",
            *SMALL,
            "--template-dir",
            "tpl",
            "-o",
            "out",
        ],
        2,
        "must print {{ a }}, {{ b }} as they are",
        write("tpl/needlebench/reasoning_needle.j2", "{{ a }} {% if b|length > 3 %}knows{% endif %} {{ b }}."),
    ),
    Case(
        "a biography sentence that upper-cases its value",
        ["build", "--generator", "longbio", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "must print {{ name }}, {{ value }}, {{ other }} as they are",
        write("tpl/longbio/standard/age.j2", "{{ name }} is {{ value|upper }} years old."),
        absent=("out",),
    ),
    Case(
        "a biography sentence that includes a template filtering its value",
        ["build", "--generator", "longbio", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "must print {{ name }}, {{ value }}, {{ other }} as they are",
        lambda root: (
            write("tpl/longbio/standard/age.j2", '{{ name }} is {% include "standard/age_value.j2" %} years old.')(
                root
            ),
            write("tpl/longbio/standard/age_value.j2", "{{ value|upper }}")(root),
        ),
        absent=("out",),
    ),
    Case(
        "a vt statement that tests its value",
        ["build", "--generator", "ruler", "--task", "vt", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "must print {{ name }}, {{ value }} as they are",
        write("tpl/ruler/vt_statement.j2", "VAR {{ name }} = {{ value if value else 0 }}"),
    ),
    Case(
        "row templates for a built-in database",
        ["build", "--generator", "holobench", "--set", "row_templates=nope", "-o", "out"],
        2,
        "has no effect here",
    ),
    # --- nextlong: corpora
    Case(
        "zipf corpus without a size",
        ["build", "--generator", "nextlong", "--set", "corpus=builtin-zipf:many", "-o", "out"],
        2,
        "use builtin-zipf:<number of documents>",
    ),
    Case(
        "zipf trillion documents",
        ["build", "--generator", "nextlong", "--set", "corpus=builtin-zipf:999999999999", "-o", "out"],
        2,
        "at most 1,000,000",
    ),
    Case(
        "no index parts",
        ["build", "--generator", "nextlong", "--set", "index_shards=0", "-o", "out"],
        2,
        "index_shards must be at least 1",
    ),
    Case(
        "more index parts than documents",
        ["build", "--generator", "nextlong", "--set", "corpus=builtin:3", "--set", "index_shards=4", "-o", "out"],
        2,
        "more parts than corpus",
    ),
    Case(
        "fractional index parts",
        ["build", "--generator", "nextlong", "--set", "index_shards=1.5", "-o", "out"],
        2,
        "index_shards must be a whole number",
    ),
    Case(
        "fractional needle count",
        ["build", "--task", "niah_multikey_1", "--set", "num_keys=2.5", "-o", "out"],
        2,
        "num_keys must be a whole number",
    ),
    Case(
        "shared cache without Ray",
        ["build", "--generator", "nextlong", "--shared-cache", "-o", "out"],
        2,
        "--shared-cache is for --backend ray",
    ),
    Case(
        "trillion documents",
        ["build", "--generator", "nextlong", "--set", "corpus=builtin:999999999999", "-o", "out"],
        2,
        "at most 1,000,000",
    ),
    Case(
        "builtin without a size",
        ["build", "--generator", "nextlong", "--set", "corpus=builtin:lots", "-o", "out"],
        2,
        "builtin:<number",
    ),
    Case(
        "missing nextlong corpus",
        ["build", "--generator", "nextlong", "--set", "corpus=none.jsonl", "-o", "out"],
        2,
        "does not exist",
    ),
    Case(
        "bad jsonl line 51",
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "-o", "out"],
        2,
        "line 51: not valid JSON",
        write("c.jsonl", '{"text": "a b c"}\n' * 50 + "{oops}\n"),
    ),
    Case(
        "cwe: a hundred common words in a 1K list",  # 100 x 6 entries cannot fit: one line, not a hang
        ["build", "--generator", "ruler", "--task", "cwe", "--set", "num_cw=100", "--lengths", "1k", "-o", "out"],
        2,
        "ask for a longer length or fewer items",
    ),
    Case(
        "a corpus with no word BM25 can search",  # every sample would be dropped, and exit 0 said nothing
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "--lengths", "4k", "-o", "out"],
        2,
        "holds no word BM25 can search",
        write("c.jsonl", '{"text": "!!! ??? ... --- the and of a to I x 1"}\n' * 300),
    ),
    Case(
        "nextlong chunks of fewer than 16 tokens",  # the chunker raised ValueError mid-build: a traceback, exit 1
        ["build", "--generator", "nextlong", "--set", "chunk_tokens=1", "--lengths", "2k", "-o", "out"],
        2,
        "chunk_tokens must be 0 (chunks of chunk_size characters) or at least 16, got 1",
    ),
    Case(
        "a cached prose pool tampered with",  # built again, not read as a pool of one unit
        ["build", "--task", "niah_single_2", *SMALL, "-o", "out"],
        0,
        "wrote",
        prepare=_tampered_prose_pool,
    ),
    Case(
        "a --set value with a colon at its end",  # YAML read it as a mapping: the error quoted "{'builtin-zipf': None}"
        ["build", "--generator", "nextlong", "--set", "corpus=builtin-zipf:", "--lengths", "2k", "-o", "out"],
        2,
        "corpus 'builtin-zipf:': use builtin-zipf:<number of documents>",
    ),
    Case(
        "a build whose every sample is dropped",  # no document shares a word with another: no negative
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "--lengths", "2k", "-o", "out"],  # was exit 0
        2,
        "every sample was dropped (2): the corpus could not fill one to its length",
        write(
            "c.jsonl",
            "".join(
                json.dumps({"id": f"d{n}", "text": " ".join(f"word{n}x{m}" for m in range(400))}) + "\n"
                for n in range(20)
            ),
        ),
    ),
    Case(
        "a corpus that gives two documents one id",  # every sample failed its check "a negative comes from the source"
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "--lengths", "2k", "-o", "out"],
        2,
        "gives id 'same' to more than one document (documents 1 and 2 of the corpus)",
        write(
            "c.jsonl",
            "".join(
                json.dumps({"id": "same", "text": " ".join(f"w{(n * 7 + k) % 97}x" for k in range(300))}) + "\n"
                for n in range(60)
            ),
        ),
    ),
    Case(
        "corpus that is a named pipe",
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "-o", "out"],
        2,
        "is not a regular file or a folder",
        lambda root: os.mkfifo(root / "c.jsonl"),
    ),
    Case(
        "spec file that is a named pipe",
        ["build", "spec.yaml", "-o", "out"],
        2,
        "is not a regular file",
        lambda root: os.mkfifo(root / "spec.yaml"),
    ),
    Case(
        "database that is a named pipe",
        ["build", "--generator", "holobench", *SMALL, "--set", "database=db.sqlite", "-o", "out"],
        2,
        "is not a regular file or a folder",
        lambda root: os.mkfifo(root / "db.sqlite"),
    ),
    Case(
        "corpus text that is a list",
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "-o", "out"],
        2,
        "c.jsonl:3: field 'text' holds a list, not text",
        write("c.jsonl", '{"text": "a b c"}\n' * 2 + '{"text": ["a", "b"]}\n'),
    ),
    Case(
        "lone surrogate in a corpus",
        ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl", "-o", "out"],
        2,
        "line 51: not valid Unicode (a lone surrogate",
        write("c.jsonl", '{"text": "a b c"}\n' * 50 + '{"text": "broken \\ud800 text"}\n'),
    ),
    Case(
        "lone surrogate in qa data",
        ["build", "--generator", "ruler", "--task", "qa_1", "--set", "qa_data=qa.jsonl", *SMALL, "-o", "out"],
        2,
        "line 1: not valid Unicode (a lone surrogate",
        write("qa.jsonl", '{"question": "Who \\udc80?", "context": "Ann did it.", "answers": {"text": ["Ann"]}}\n'),
    ),
    Case(
        "hub corpus, no network",
        ["build", "--generator", "nextlong", "--set", "corpus=hf:someone/no-such-set", "-o", "out"],
        2,
        "cannot be fetched: 127.0.0.1 cannot be reached",
        env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": "http://127.0.0.1:9"},
    ),
    Case(
        "tiny chunks",
        ["build", "--generator", "nextlong", "--set", "chunk_size=5", "-o", "out"],
        2,
        "chunk_size must be at least 16",
    ),
    Case(
        "low overgeneration",
        ["build", "--generator", "nextlong", "--set", "overgeneration=0.5", "-o", "out"],
        2,
        "at least 1",
    ),
    Case(
        "hub corpus offline",
        ["build", "--generator", "nextlong", "--set", "corpus=hf:someone/no-such-set", "-o", "out"],
        2,
        "could not be opened",
    ),
    # --- templates
    Case("missing template folder", ["build", "--template-dir", "nope", "-o", "out"], 2, "not a folder"),
    Case(
        "longbio prompt without the demonstrations",
        ["build", "--generator", "longbio", "--task", "bio_calculation", "--template-dir", "tpl", "-o", "out"],
        2,
        "does not show the solved demonstrations",
        write("tpl/longbio/prompt.j2", "Read.\n\n{{ context }}\n\nQuestion: {{ question }}\n"),
    ),
    Case(
        "text where an int is needed",
        ["build", "--generator", "longbio", "--set", "shots=two", "-o", "out"],
        2,
        "shots must be an int, got 'two'",
    ),
    Case(
        "template includes /etc/passwd",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "includes '/etc/passwd'",
        write("tpl/needle/needle.j2", "{% include '/etc/passwd' %}{{ key }} {{ value }}"),
    ),
    Case(
        "template includes ../",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "includes '../../secret.j2'",
        write("tpl/needle/needle.j2", "{% include '../../secret.j2' %}{{ key }} {{ value }}"),
    ),
    Case(
        "template reaches python",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "unsafe",
        write("tpl/needle/needle.j2", "{{ key.__class__.__mro__ }} {{ key }} {{ value }}"),
    ),
    Case(
        "template without value",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "needle template must print",
        write("tpl/needle/needle.j2", "{{ key }} only"),
    ),
    Case(
        "template syntax",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "failed to render",
        write("tpl/needle/needle.j2", "{% if %}"),
    ),
    Case(
        "template undefined variable",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "failed to render",
        write("tpl/needle/question.j2", "{{ nothing }}"),
    ),
    # --- output folders and the cache
    Case("output is a file", ["build", *SMALL, "-o", "out"], 2, "is a file", write("out", "x")),
    Case("output under /proc", ["build", *SMALL, "-o", "/proc/longsynth-out"], 2, "cannot write to output folder"),
    Case(
        "output holds other files",
        ["build", *SMALL, "-o", "out"],
        2,
        "already holds other output",
        write("out/notes.txt", "mine"),
    ),
    Case(
        "task folder is a file",
        ["build", *SMALL, "--overwrite", "-o", "out"],
        2,
        "holds files longsynth did not write (niah_single_1)",
        write("out/niah_single_1", "x"),
    ),
    Case(
        "overwrite a folder of someone's data",
        ["build", *SMALL, "--overwrite", "-o", "out"],
        2,
        "holds files longsynth did not write (README.md, data/corpus.jsonl)",
        lambda root: (write("out/README.md", "mine")(root), write("out/data/corpus.jsonl", '{"text": "x"}')(root)),
    ),
    Case(
        "cache is a file",
        ["build", *SMALL, "-o", "out"],
        2,
        "cache folder",
        write("cachefile", "x"),
        env={"LONGSYNTH_CACHE": "cachefile"},
    ),
    Case(
        "cache under /proc",
        ["build", *SMALL, "-o", "out"],
        2,
        "cache folder",
        env={"LONGSYNTH_CACHE": "/proc/longsynth-cache"},
    ),
    Case("a small build works", ["build", *SMALL, "-o", "out"], 0),
    # --- validate, inspect, push on damaged or tampered folders
    Case("validate a missing folder", ["validate", "nope"], 2, "is not a folder"),
    Case("validate a file", ["validate", "f.txt"], 2, "is a file", write("f.txt", "x")),
    Case(
        "validate without manifest",
        ["validate", "built"],
        2,
        "has no manifest.json",
        built=lambda f: (f / "manifest.json").unlink(),
    ),
    Case(
        "validate a list manifest",
        ["validate", "built"],
        2,
        "not a longsynth manifest",
        built=lambda f: (f / "manifest.json").write_text("[1, 2]"),
    ),
    Case(
        "validate broken json",
        ["validate", "built"],
        2,
        "not valid JSON",
        built=lambda f: (f / "manifest.json").write_text("{"),
    ),
    Case("validate a clean build", ["validate", "built"], 0, "0 failed", built=lambda f: None),
    Case(
        "validate a truncated shard",
        ["validate", "built"],
        1,
        "not a readable Parquet file",
        built=truncate_first_shard,
    ),
    Case(
        "validate an empty shard",
        ["validate", "built"],
        1,
        "not a readable Parquet file",
        built=lambda f: first_shard(f).write_bytes(b""),
    ),
    Case(
        "validate edited counts",
        ["validate", "built"],
        1,
        "the manifest counts",
        built=rewrite_manifest(lambda m: m["counts"].update({k: 99 for k in m["counts"]})),
    ),
    Case(
        "validate edited lengths",
        ["validate", "built"],
        1,
        "fingerprint",
        built=rewrite_manifest(lambda m: m["spec"].update(lengths=[2048])),
    ),
    Case(
        "validate a dropped row",
        ["validate", "built"],
        1,
        "planned samples are absent",
        built=drop_a_row_and_refix_its_hash,
    ),
    Case(
        "validate a parent path",
        ["validate", "built"],
        1,
        "not a file inside the folder",
        built=list_outside_file("../../etc/hostname"),
    ),
    Case(
        "validate an absolute path",
        ["validate", "built"],
        1,
        "not a file inside the folder",
        built=list_outside_file("/etc/hostname"),
    ),
    Case(
        "validate an extra file",
        ["validate", "built"],
        1,
        "not listed in the manifest",
        built=lambda f: (f / "extra.sh").write_text("x"),
    ),
    Case(
        "validate an edited answer",
        ["validate", "built"],
        1,
        "sha256 differs",
        built=lambda f: first_shard(f).write_bytes(first_shard(f).read_bytes()[:-9] + b"PAR1xxxxx"),
    ),
    Case(
        "push a parent path",
        ["push", "built", "me/x", "--dry-run"],
        2,
        "does not match its manifest",
        built=list_outside_file("../../etc/hostname"),
    ),
    Case(
        "push an extra file",
        ["push", "built", "me/x", "--dry-run"],
        2,
        "not listed",
        built=lambda f: (f / "extra.sh").write_text("x"),
    ),
    Case(
        "push a truncated shard",
        ["push", "built", "me/x", "--dry-run"],
        2,
        "sha256 differs",
        built=truncate_first_shard,
    ),
    Case(
        "inspect a truncated shard", ["inspect", "built"], 2, "does not match its manifest", built=truncate_first_shard
    ),
    Case(
        "inspect an unknown task", ["inspect", "built", "--task", "nope"], 2, "not in this build", built=lambda f: None
    ),
    Case("inspect out of range", ["inspect", "built", "--index", "999"], 2, "out of range", built=lambda f: None),
    # --- the ruler and needlebench families, and suites
    Case(
        "qa data record is not an object",
        ["build", "--generator", "ruler", "--task", "qa_1", "--set", "qa_data=qa.jsonl", *SMALL, "-o", "out"],
        2,
        "needs a 'question' string",
        write("qa.jsonl", "[1, 2]\n"),
    ),
    Case(
        "hotpot record without paragraphs",
        ["build", "--generator", "ruler", "--task", "qa_2", "--set", "qa_data=hp.jsonl", *SMALL, "-o", "out"],
        2,
        "'context' must hold titles and sentences",
        write("hp.jsonl", '{"question": "q?", "answer": "a", "context": 7, "supporting_facts": []}\n'),
    ),
    Case(
        "qa data with no answerable question",
        ["build", "--generator", "ruler", "--task", "qa_1", "--set", "qa_data=sq.jsonl", *SMALL, "-o", "out"],
        2,
        "holds no question whose answer is in its gold paragraph",
        write("sq.jsonl", '{"question": "q?", "context": "Some text.", "answers": {"text": ["absent"]}}\n'),
    ),
    Case(
        "qa data on an unreachable hub",
        ["build", "--generator", "ruler", "--task", "qa_1", "--set", "qa_data=hf:someone/squad", *SMALL, "-o", "out"],
        2,
        "cannot be fetched",
        env={"HF_HUB_OFFLINE": "", "HF_DATASETS_OFFLINE": "", "HF_ENDPOINT": "http://127.0.0.1:9"},
    ),
    Case(
        "vt statement template without the value",
        ["build", "--generator", "ruler", "--task", "vt", "--template-dir", "tpl", *SMALL, "-o", "out"],
        2,
        "vt_statement.j2 must print",
        write("tpl/ruler/vt_statement.j2", "VAR {{ name }} is set."),
    ),
    Case(
        "template repeating a string ten billion times",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "a repetition of more than 1,000,000 items",
        write("tpl/needle/needle.j2", '{{ "x" * 10**10 }} one hidden {{ kind }} for {{ key }} is {{ value }}.'),
    ),
    Case(
        "template padding to ten million characters",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "center of 10,000,000 is too wide",
        write("tpl/needle/needle.j2", '{{ "x"|center(10**7) }} one hidden {{ kind }} for {{ key }} is {{ value }}.'),
    ),
    Case(
        "needle template that upper-cases its key",
        ["build", *SMALL, "--template-dir", "tpl", "-o", "out"],
        2,
        "must print {{ key }}, {{ value }} as they are",
        write("tpl/needle/needle.j2", "One special {{ kind }} for {{ key|upper }} is: {{ value }}."),
    ),
    Case(
        "kinship wording that tests a name",
        ["build", "--generator", "needlebench", "--task", "ancestral_trace", "--template-dir", "tpl", "-o", "out"],
        2,
        "must print {{ elder }}, {{ younger }}, {{ relation }} as they are",
        write(
            "tpl/needlebench/kinship.j2",
            "{% if elder == 'Zoe Quill' %}She{% else %}{{ elder }}{% endif %} is {{ younger }}'s {{ relation }}.",
        ),
    ),
    # The oracle reads each statement back from its "<younger>'s <relation>": wordings whose names
    # stand side by side or glued together, a relation or a mark said twice, among prose sentences:
    # each statement is still read once (the build checks every row's statements).
    *(
        Case(f"kinship wordings with {what}, in prose", KINSHIP_IN_PROSE, 0, "wrote 3 rows", write(KINSHIP, wording))
        for what, wording in (
            (
                "two names side by side",
                "{%- if form == 0 -%}Records name {{ elder }} {{ younger }}'s {{ relation }}."
                "{%- elif form == 1 -%}{{ younger }}'s {{ relation }}: {{ elder }}."
                "{%- elif form == 2 -%}Ask {{ younger }}'s {{ relation }}, {{ elder }}, about {{ younger }}."
                "{%- else -%}{{ younger }} ({{ elder }} is {{ younger }}'s {{ relation }}) lived nearby.{%- endif -%}",
            ),
            (
                "glued names and a mark said twice",
                "{%- if form == 0 -%}{{ elder }}{{ younger }}'s {{ relation }}."
                "{%- elif form == 1 -%}{{ younger }}'s {{ relation }}{{ elder }}."
                "{%- elif form == 2 -%}{{ younger }}'s {{ relation }}'s {{ relation }} is {{ elder }}."
                "{%- else -%}{{ younger }}'s {{ relation }} {{ younger }}'s {{ relation }} {{ elder }}.{%- endif -%}",
            ),
        )
    ),
    Case(
        "kinship wording without the relation",
        ["build", "--generator", "needlebench", "--task", "ancestral_trace", "--template-dir", "tpl", "-o", "out"],
        2,
        "kinship.j2 form 0 must name both people",
        write("tpl/needlebench/kinship.j2", "{{ elder }} and {{ younger }} are related."),
    ),
    Case(
        "too many reasoning needles",
        ["build", "--generator", "needlebench", "--task", "multi_reasoning", "--set", "num_needles=9", "-o", "out"],
        2,
        "num_needles must be from 2 to 5",
    ),
    Case(
        "suite that is not a mapping",
        ["build", "--suite", "s.yaml", "-o", "out"],
        2,
        "must be a mapping",
        write("s.yaml", "- ruler\n"),
    ),
    Case(
        "suite and a spec file",
        ["build", "spec.yaml", "--suite", "ruler", "-o", "out"],
        2,
        "not both",
        write("spec.yaml", "generator: ruler\n"),
    ),
    Case(
        "a billion laughs in a spec (ten levels, 10^10 values)",
        ["build", "spec.yaml", "-o", "out"],
        2,
        "YAML aliases (*name) are not allowed (line 3)",
        write("spec.yaml", "generator: needle\nlengths: [1024]\ntasks: " + LAUGHS + "\n"),
    ),
    Case(
        "a self-referencing --set value",
        ["build", *SMALL, "--set", "haystack=&a [*a]", "-o", "out"],
        2,
        "YAML aliases (*name) are not allowed",
    ),
    # --- the loop after a build
    Case(
        "run with an endpoint that is no URL",
        ["run", "built", "--endpoint", "notaurl", "--model", "m", "-o", "out"],
        2,
        "--endpoint must be an http:// or https:// URL",
        built=lambda f: None,
    ),
    Case(
        "score a folder with no predictions",
        ["score", "built", "preds"],
        2,
        "holds no predictions.parquet",
        write("preds/notes.txt", "nothing here"),
        built=lambda f: None,
    ),
    Case(
        "run into the dataset folder",
        ["run", "built", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "-o", "built/pred"],
        2,
        "is inside the dataset folder",
        built=lambda f: None,
    ),
    Case(
        "score into the dataset folder",
        ["score", "built", "preds.jsonl", "-o", "built"],
        2,
        "is inside the dataset folder",
        write("preds.jsonl", '{"id": "x", "prediction": "7"}\n'),
        built=lambda f: None,
    ),
    Case(
        "score predictions kept inside the dataset folder",
        ["score", "built", "built"],
        2,
        "is inside the dataset folder",
        built=lambda f: None,
    ),
    *[
        Case(
            f"report --audit of {what}",
            ["report", "built", "preds.jsonl", "-o", "r.html", "--audit", "audit.json"],
            2,
            "is not an audit.json written by `longsynth audit -o`",
            lambda root, text=text: (
                (root / "audit.json").write_text(text),
                (root / "preds.jsonl").write_text('{"id": "niah_single_1-1024-d0-00000", "prediction": "1"}\n'),
            ),
            built=lambda f: None,
            absent=(),
        )
        for what, text in (
            ("a file that is not JSON", "root:x:0:0:root:/root:/bin/bash\n"),
            ("a JSON list", "[1, 2]"),
            ("cells that are numbers", '{"t": {"b": 1}}'),
            ("a cell without its fields", '{"t": {"b": {"score": 1}}}'),
        )
    ],
    Case(
        "build --previous of a folder that is not a build",
        ["build", "--lengths", "1k", "--samples", "1", "-o", "fresh", "--previous", "prev"],
        2,
        "has no manifest.json",
        lambda root: (root / "prev").mkdir(),
    ),
    Case(
        "report into the dataset folder",
        ["report", "built", "preds", "-o", "built/report.html"],
        2,
        "is inside the dataset folder",
        built=lambda f: None,
    ),
    Case(
        "export into the dataset folder",
        ["export", "ruler", "built", "built/ruler"],
        2,
        "is inside the dataset folder",
        built=lambda f: None,
    ),
    Case(
        "score a jsonl that is not JSON",
        ["score", "built", "preds.jsonl"],
        2,
        "preds.jsonl:1 is not valid JSON",
        write("preds.jsonl", "{oops\n"),
        built=lambda f: None,
    ),
    Case(
        "score predictions of another build",
        ["score", "built", "other.jsonl"],
        2,
        "none of the 1 predictions names a row of this dataset",
        write("other.jsonl", '{"id": "niah_single_1-65536-d50-00000", "prediction": "7"}\n'),
        built=lambda f: None,
    ),
    Case(
        "export lm-eval of a tampered build",
        ["export", "lm-eval", "built", "lm"],
        2,
        "does not match its manifest",
        built=truncate_first_shard,
    ),
    # --- numbers that meant work without end
    Case(
        "ruler freq_cw of a billion",
        ["build", "--generator", "ruler", "--task", "cwe", *SMALL, "--set", "freq_cw=1000000000"],
        2,
        "freq_cw must be at most 1,000",
    ),
    Case(
        "ruler vocab_size of 1e8",
        ["build", "--generator", "ruler", "--task", "fwe", *SMALL, "--set", "vocab_size=100000000"],
        2,
        "vocab_size must be at most 200,000",
    ),
    Case(
        "ruler vocab_size of 1e12",
        ["build", "--generator", "ruler", "--task", "fwe", *SMALL, "--set", "vocab_size=1e12"],
        2,
        "vocab_size must be an int",
    ),
    Case(
        "ruler short_freq_ucw of 99999",
        ["build", "--generator", "ruler", "--task", "cwe", *SMALL, "--set", "short_freq_ucw=99999"],
        2,
        "short_freq_ucw must be at most 100",
    ),
    Case(
        "holobench max_answer_rows of 1e9",
        ["build", "--generator", "holobench", *SMALL, "--set", "max_answer_rows=1000000000"],
        2,
        "max_answer_rows must be at most 100,000",
    ),
    Case(
        "longbio num_people of a million",
        ["build", "--generator", "longbio", *SMALL, "--set", "num_people=1000000"],
        2,
        "num_people must be at most 100",
    ),
    # --- the command line itself
    Case("list with an argument", ["list", "extra"], 2, "unexpected extra argument"),
    Case("unknown command", ["frobnicate"], 2, "No such command"),
    Case("validate without a folder", ["validate"], 2, "Missing argument"),
]


# --- the dataset door: every command that reads a built folder, against one hand-edited manifest each
PREDS = write("preds.jsonl", '{"id": "niah_single_1-1024-d0-00000", "prediction": "1234567"}\n')
READERS = {  # command -> its arguments, with the built folder named FOLDER
    "validate": ["validate", "FOLDER"],
    "inspect": ["inspect", "FOLDER"],
    "score": ["score", "FOLDER", "preds.jsonl", "-o", "out"],
    "run": ["run", "FOLDER", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "-o", "out"],
    "report": ["report", "FOLDER", "preds.jsonl", "-o", "out/r.html", "--png", "out/png"],
    "export ruler": ["export", "ruler", "FOLDER", "out"],
    "export lm-eval": ["export", "lm-eval", "FOLDER", "out"],
    "push": ["push", "FOLDER", "me/x", "--dry-run"],
}
ESCAPE = "/tmp/longsynth-escaped-task"
BAD_TASKS = {
    "a parent path": ["../escaped"],
    "an absolute path": [ESCAPE],
    "a separator": ["niah_single_1/../../x"],
    "a number": 5,
    "a list holding null": [None],
    "an empty list": [],
    "a task named twice": ["niah_single_1", "niah_single_1"],
}


def _set_tasks(tasks) -> Callable[[Path], None]:
    def change(manifest: dict) -> None:
        manifest["spec"]["tasks"] = tasks

    return rewrite_manifest(change)


def _drop_tasks(manifest: dict) -> None:
    del manifest["spec"]["tasks"]


def _args(command: str, folder: str = "built") -> list[str]:
    return [folder if a == "FOLDER" else a for a in READERS[command]]


for _command in READERS:
    for _what, _tasks in BAD_TASKS.items():
        CASES.append(
            Case(
                f"{_command}: manifest tasks are {_what}",
                _args(_command),
                2,
                "tasks must be a list of plain names" if _what != "a task named twice" else "names a task twice",
                PREDS,
                built=_set_tasks(_tasks),
                absent=(ESCAPE, ESCAPE + ".yaml"),
            )
        )
    CASES.append(
        Case(
            f"{_command}: manifest has no tasks",
            _args(_command),
            2,
            "tasks must be a list of plain names",
            PREDS,
            built=rewrite_manifest(_drop_tasks),
        )
    )


def _renamed(name: str) -> Callable[[Path], None]:
    """The build moved to a folder whose name is a glob pattern, beside a decoy the pattern matches."""

    def tamper(folder: Path) -> None:
        shutil.copytree(folder, folder.parent / "ds-decoy")
        folder.rename(folder.parent / name)

    return tamper


for _name in ("o[1]", "ds*", "d?s{a,b}"):
    for _command in ("validate", "inspect", "score", "report", "export ruler", "export lm-eval", "push"):
        CASES.append(
            Case(f"{_command} a folder named {_name}", _args(_command, _name), 0, "", PREDS, built=_renamed(_name))
        )


def _wrong_answer_rehashed(folder: Path) -> None:
    """A row's answer changed, and the shard's sha256 in the manifest updated to match."""
    import polars as pl

    shard = first_shard(folder)
    frame = pl.read_parquet(shard)
    frame = frame.with_columns(pl.Series("answers", [["0000000"]] * frame.height, dtype=frame.schema["answers"]))
    rewrite_first_shard(folder, frame)


def _card_replaced_rehashed(folder: Path) -> None:
    card = folder / "README.md"
    card.write_text(card.read_text().replace("config_name: niah_single_1", "config_name: other"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["README.md"] = hashlib.sha256(card.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _untrue_stats(manifest: dict) -> None:
    for stats in manifest["shards"].values():
        stats[0]["lengths"] = [n - 100 for n in stats[0]["lengths"]]


PUBLISHED = {  # what was tampered with -> (how, what validate says of it)
    "wrong answers, hash updated": (_wrong_answer_rehashed, "differ"),
    "a replaced card, hash updated": (_card_replaced_rehashed, "front matter"),
    "untrue shard statistics": (rewrite_manifest(_untrue_stats), "shard statistics"),
}
for _what, (_tamper, _says) in PUBLISHED.items():
    for _command in ("push", "export ruler", "export lm-eval"):
        CASES.append(Case(f"{_command} of a build with {_what}", _args(_command), 2, "fails validation", built=_tamper))
    CASES.append(
        Case(
            f"validate a build with {_what}",
            _args("validate"),
            1,
            _says,
            built=_tamper,
        )
    )


# --- the output door: nothing another command writes lands in a dataset folder or the cache
def _second_dataset(folder: Path) -> None:
    shutil.copytree(folder, folder.parent / "other")


def _link_into_other(name: str) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        _second_dataset(folder)
        (folder.parent / "out").mkdir()
        (folder.parent / "out" / name).symlink_to(folder.parent / "other")

    return tamper


WRITERS = {  # command -> its arguments, writing into WHERE
    "score": ["score", "built", "preds.jsonl", "-o", "WHERE"],
    "run": ["run", "built", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "-o", "WHERE"],
    "report": ["report", "built", "preds.jsonl", "-o", "WHERE/r.html"],
    "report --png": ["report", "built", "preds.jsonl", "-o", "r.html", "--png", "WHERE"],
    "export ruler": ["export", "ruler", "built", "WHERE"],
    "export lm-eval": ["export", "lm-eval", "built", "WHERE"],
}
for _command, _words in WRITERS.items():
    for _where, _tamper, _says in (
        ("other", _second_dataset, "is inside the dataset folder"),
        ("other/sub", _second_dataset, "is inside the dataset folder"),
        ("cache/x", lambda f: None, "is inside the cache folder"),
    ):
        CASES.append(
            Case(
                f"{_command} into {_where}",
                [w.replace("WHERE", _where) for w in _words],
                2,
                _says,
                PREDS,
                built=_tamper,
            )
        )
CASES += [
    Case("export ruler through a link into a dataset", ["export", "ruler", "built", "out"], 2, "leads outside",
         built=_link_into_other("niah_single_1")),
    Case("score into a folder whose name is a file", ["score", "built", "preds.jsonl", "-o", "victim.txt/sub"], 2,
         "cannot write to", PREDS, built=lambda f: None),
    Case("build with the cache inside a dataset", ["build", *SMALL, "-o", "out"], 2, "is inside the dataset folder",
         built=lambda f: None, env={"LONGSYNTH_CACHE": "built/cache"}),
]  # fmt: skip


# --- the input door: specs, suites and prediction files
def write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def prepare(root: Path) -> None:
        (root / name).write_bytes(data)

    return prepare


DEEP = "a: " + "[" * 10000 + "]" * 10000 + "\n"
CASES += [
    Case("a spec in Latin-1", ["build", "s.yaml", "-o", "out"], 2, "is not UTF-8 text (line 2)",
         write_bytes("s.yaml", b"generator: needle\ntasks: [caf\xe9]\n")),
    Case("a suite in Latin-1", ["build", "--suite", "s.yaml", "-o", "out"], 2, "is not UTF-8 text (line 1)",
         write_bytes("s.yaml", b"description: caf\xe9\n")),
    Case("a spec 10,000 levels deep", ["build", "s.yaml", "-o", "out"], 2, "nested more than 64 levels",
         write("s.yaml", DEEP)),
    Case("a suite 10,000 levels deep", ["build", "--suite", "s.yaml", "-o", "out"], 2, "nested more than 64 levels",
         write("s.yaml", DEEP)),
    Case("a spec with a binary key", ["build", "s.yaml", "-o", "out"], 2, "YAML tags",
         write("s.yaml", "? !!binary aGVsbG8=\n: 1\n")),
    Case("a suite with a binary value", ["build", "--suite", "s.yaml", "-o", "out"], 2, "YAML tags",
         write("s.yaml", "tasks: !!binary aGVsbG8=\n")),
    Case("a --set value with a tag", ["build", *SMALL, "--set", "samples=!!binary aGVsbG8=", "-o", "out"], 2,
         "YAML tags"),
    Case("an 18 MB suite", ["build", "--suite", "s.yaml", "-o", "out"], 2, "larger than 1,024 KB",
         write("s.yaml", "description: x\n" + "# padding\n" * 1_800_000)),
    Case("a suite that is a folder", ["build", "--suite", "s.yaml", "-o", "out"], 2, "unknown suite",
         prepare=lambda root: (root / "s.yaml").mkdir()),
    Case("score a Latin-1 prediction file", ["score", "built", "p.jsonl", "-o", "out"], 2, "p.jsonl:2 is not UTF-8",
         write_bytes("p.jsonl", b'{"id": "a", "prediction": "x"}\n{"id": "b", "prediction": "caf\xe9"}\n'),
         built=lambda f: None),
    Case("score a prediction file nested 10,000 deep", ["score", "built", "p.jsonl", "-o", "out"], 2,
         "p.jsonl:1 is nested more than 64 levels", write("p.jsonl", "[" * 10000 + "]" * 10000 + "\n"),
         built=lambda f: None),
    Case("score a prediction file nested 100 deep", ["score", "built", "p.jsonl", "-o", "out"], 2,
         "p.jsonl:1 is nested more than 64 levels", write("p.jsonl", "[" * 100 + "]" * 100 + "\n"),
         built=lambda f: None),
    Case("score a prediction line of 20 MB", ["score", "built", "p.jsonl", "-o", "out"], 2,
         "p.jsonl:1 is longer than 16 MB", write("p.jsonl", '{"id": "' + "x" * 20_000_000 + '"}\n'),
         built=lambda f: None),
    Case("score a prediction file that is a folder", ["score", "built", "p.jsonl", "-o", "out"], 2,
         "holds no predictions.parquet", lambda root: (root / "p.jsonl").mkdir(), built=lambda f: None),
]  # fmt: skip


# --- databases that are too wide, or hold numbers no answer can state
def _wide_csv(root: Path) -> None:
    (root / "db").mkdir()
    header = ",".join(f"c{n}" for n in range(3000))
    (root / "db" / "wide.csv").write_text(header + "\n" + "\n".join(",".join("1" * 3000) for _ in range(50)) + "\n")


def _infinite_sqlite(root: Path) -> None:
    con = sqlite3.connect(root / "inf.sqlite")
    con.execute("CREATE TABLE items (item_id INTEGER, name TEXT, price REAL)")
    con.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"item{i}", 1.5 * i) for i in range(300)])
    con.execute("INSERT INTO items VALUES (301, 'odd', 9e999)")
    con.commit()
    con.close()


CASES += [
    Case("a 3,000-column CSV table", ["build", "--generator", "holobench", *SMALL, "--set", "database=db", "-o", "out"],
         2, "has 3,000 columns; at most 100", _wide_csv),
    Case("a database with an infinite REAL", ["build", "--generator", "holobench", *SMALL, "--set",
         "database=inf.sqlite", "-o", "out"], 2, "column 'price' holds inf", _infinite_sqlite),
]  # fmt: skip


# A table of more rows than a user table may have was read whole before the count refused it (a
# 10 GB table would have been in memory first). Now a Parquet table is read one row past the limit
# at most, and a CSV table over 1 GiB is refused unread (here a sparse file of 2 GiB).
def _long_parquet(root: Path) -> None:
    import polars as pl

    (root / "db").mkdir()
    rows = 1_000_001
    pl.DataFrame({"item_id": range(rows), "name": [f"item{n}" for n in range(rows)]}).write_parquet(
        root / "db" / "items.parquet"
    )


def _huge_csv(root: Path) -> None:
    (root / "db").mkdir()
    with open(root / "db" / "items.csv", "wb") as handle:
        handle.write(b"item_id,name\n")
        handle.truncate(2 << 30)


def _giant_value_sqlite(root: Path) -> None:
    con = sqlite3.connect(root / "big.sqlite")
    con.execute("CREATE TABLE items (item_id INTEGER, name TEXT)")
    con.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"item{i}") for i in range(300)])
    con.execute("INSERT INTO items VALUES (301, ?)", ("word " * 4_000_000,))
    con.commit()
    con.close()


CASES += [
    Case("a database value of 20 million characters", ["build", "--generator", "holobench", *SMALL, "--set",
         "database=big.sqlite", "-o", "out"], 2, "column 'name' holds a value of 20,000,000 characters; at most 10,000",
         _giant_value_sqlite),
    Case("a Parquet table of 1,000,001 rows", ["build", "--generator", "holobench", *SMALL, "--set", "database=db",
         "-o", "out"], 2, "database table 'items' has more than 1,000,000 rows", _long_parquet),
    Case("a CSV table of 2 GiB", ["build", "--generator", "holobench", *SMALL, "--set", "database=db", "-o", "out"],
         2, "holds 2,147,483,648 bytes, more than the 1,073,741,824 a CSV table may have", _huge_csv),
]  # fmt: skip


def _words_of_their_own(root: Path) -> None:
    """Documents whose every word but three is theirs alone (a log of ids, a table of codes)."""
    lines = [
        json.dumps({"id": f"d{n}", "text": " ".join(f"code{n}x{k} about things" for k in range(150))})
        for n in range(60)
    ]
    (root / "codes.jsonl").write_text("\n".join(lines))


CASES += [
    Case("a corpus whose documents have words of their own", ["build", "--generator", "nextlong", "--lengths", "4k",
         "--samples", "2", "--set", "corpus=codes.jsonl", "-o", "out"], 0, "wrote 2 rows", _words_of_their_own),
]  # fmt: skip


# A haystack of needles is counted from the template's text and each key's and value's parts where
# every join is a certain pre-token cut, else needle by needle: a user's wording with joins the rule
# refuses (an apostrophe after the key, a colon before the value, an exclamation mark after it; the key
# and value side by side) and one it accepts in an odd place (a digit glued to the key) all build all
# rows (3 samples x 3 depths).
NEEDLE_HAYSTACK = ["build", "--generator", "needle", "--task", "niah_multikey_2", "--lengths", "4k"]
NEEDLE_HAYSTACK += ["--samples", "3", "--template-dir", "tpl", "-o", "out"]
for _what, _wording in [
    ("joins the count by parts refuses", "{{ key }}'s hidden {{ kind }}:{{ value }}!"),
    ("a digit glued to the key", "ID {{ key }}9 holds the {{ kind }} {{ value }}."),
    ("its key and value side by side", "{{ key }}{{ value }}"),
]:
    CASES.append(
        Case(f"a needle wording with {_what}, in a haystack of needles", NEEDLE_HAYSTACK, 0, "wrote 9 rows",
             write("tpl/needle/needle.j2", _wording))
    )  # fmt: skip


# A build large enough to measure with the quicktok helper (6M tokens), whose every sample needs more
# room than 32K gives: the build thread makes samples ahead while the helper loads and works through
# them, and the first cell's failed draws still stop the build in one line, at once.
CASES.append(
    Case("4,000 values a key in a 32K multivalue build of 192 samples",
         ["build", "--task", "niah_multivalue", "--set", "num_values=4000", "--lengths", "32k", "--samples", "64",
          "-o", "out"], 2, "ask for a longer length or fewer items")
)  # fmt: skip


def _corpus_with_null_texts(root: Path) -> None:
    """A Parquet corpus whose every third text is null, the others about 3,000 tokens of random words."""
    import polars as pl

    rng = random.Random(1)
    words = [f"w{n}" for n in range(3000)]
    texts = [None if n % 3 == 0 else " ".join(rng.choice(words) for _ in range(1500)) for n in range(60)]
    pl.DataFrame({"id": [f"d{n}" for n in range(60)], "text": texts}).write_parquet(root / "nulls.parquet")


# Null texts are skipped like empty ones. At 8K each of a source's five ~800-token meta-chunks may take
# only about 830 tokens of negatives, and the corpus's chunks are as large: every sample fell short
# (exit 2) until a short sample was drawn again with more candidates, among which shorter chunks fit.
NULLS = ["build", "--generator", "nextlong", "--set", "corpus=nulls.parquet", "--samples", "2", "-o", "out"]
CASES += [
    Case("a Parquet corpus with null texts, chunks as large as a meta-chunk's share", [*NULLS, "--lengths", "8k"],
         0, "wrote 2 rows", _corpus_with_null_texts),
    Case("a Parquet corpus with null texts, a length its chunks fit", [*NULLS, "--lengths", "16k"], 0,
         "wrote 2 rows", _corpus_with_null_texts),
]  # fmt: skip


def _giant_replies(folder: Path) -> None:
    """Predictions of 12 MB a row (the row's input over and over, the answer at the very end) and one
    of 4 MB of Chinese characters with the answer last, next to the build."""
    import polars as pl

    rows = pl.read_parquet(first_shard(folder)).to_dicts()
    with (folder.parent / "preds.jsonl").open("w") as handle:
        for n, row in enumerate(rows):
            if n == 0:
                text = "灯塔古老" * 330_000  # 4 MB of UTF-8
            else:
                text = row["input"] * (12_000_000 // len(row["input"]))
            record = {"id": row["id"], "prediction": text + " " + row["answers"][0]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# A reply is cut to the row's reserve before anything reads it: an echo of megabytes is encoded only
# as far as a certain pre-token cut past its reserve (the whole reply where it has none, as Chinese
# text), and scores nothing, its answer past the cut.
CASES.append(
    Case("predictions of 4 and 12 MB a row, the answer at their end", ["score", "built", "preds.jsonl", "-o", "out"], 0,
         "overall 0.000", built=_giant_replies)
)  # fmt: skip


def _null_input_rehashed(folder: Path) -> None:
    """A shard whose first row's input is null, the manifest's hash of it updated."""
    import polars as pl

    shard = first_shard(folder)
    frame = pl.read_parquet(shard)
    nulls = pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("input"))
    rewrite_first_shard(folder, frame.with_columns(nulls.alias("input")))


# A null where a row's text should be (the file's hash made to match): that row is a problem in one
# line, the others are still checked, no traceback (the measuring thread raised a TypeError).
CASES.append(
    Case("validate a row whose input is null, its shard rehashed", ["validate", "built"], 1,
         "its input is not text (NoneType)", built=_null_input_rehashed)
)  # fmt: skip


def _nextlong_chunk_named_from_the_end(root: Path) -> None:
    """A nextlong build whose first row names its second chunk by a negative number, the same chunk
    counted from the end of the index (its text and document still match), its shard rehashed."""
    import numpy as np
    import polars as pl

    args = ["build", "--generator", "nextlong", "--task", "nextlong", "--lengths", "2k", "--samples", "2"]
    result = CliRunner().invoke(cli, [*args, "--set", "corpus=builtin:300", "-o", str(root / "nl")])
    assert result.exit_code == 0, result.output
    (offsets,) = (root / "cache" / "index").glob("*/offsets.npy")
    chunks = len(np.load(offsets)) - 1
    shard = first_shard(root / "nl")
    frame = pl.read_parquet(shard)
    metadata = frame["metadata"].to_list()
    first = json.loads(metadata[0])
    first["chunks"][1]["chunk"] -= chunks
    metadata[0] = json.dumps(first)
    rewrite_first_shard(root / "nl", frame.with_columns(pl.Series("metadata", metadata)))


# A chunk number below zero read the chunk that far from the end of the index (Python's indexing): a
# row naming its chunk so passed every check. Now a number that is not one of the index's chunks is
# one problem line, and so is a float, a string or true (they were "could not read the row" lines).
CASES.append(
    Case("validate a nextlong row that names a chunk counted from the end", ["validate", "nl"], 1,
         "which the index does not have", prepare=_nextlong_chunk_named_from_the_end)
)  # fmt: skip


def _chat_row_edited(edit: Callable[[dict, str], None]) -> Callable[[Path], None]:
    """A chat-template build whose row's metadata is edited by `edit(metadata, prompt)`, its shard
    rehashed."""

    def prepare(root: Path) -> None:
        import polars as pl

        (root / "chat.jinja").write_text(
            "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}\n{% endfor %}<|assistant|>\n"
        )
        args = ["build", "--task", "niah_single_1", "--lengths", "1k", "--samples", "1", "--depths", "50"]
        result = CliRunner().invoke(cli, [*args, "--set", "chat_template=chat.jinja", "-o", str(root / "chat")])
        assert result.exit_code == 0, result.output
        frame = pl.read_parquet(first_shard(root / "chat"))
        metadata = json.loads(frame["metadata"][0])
        edit(metadata, frame["prompt"][0])
        rewrite_first_shard(root / "chat", frame.with_columns(pl.Series("metadata", [json.dumps(metadata)])))

    return prepare


def _end_counted_from_the_end(metadata: dict, prompt: str) -> None:
    metadata["input_span"][1] -= len(prompt)  # the same place, counted from the end of the prompt


# A span recorded as a negative number read the same text from the end of the prompt (Python's
# slices), so the check that the prompt wraps the input passed; the same for an item's span, which
# at depth 0 passed every check (tests/contract). Both are now one problem line.
CASES += [
    Case("validate a chat row whose input span ends at a place counted from the end", ["validate", "chat"], 1,
         "is not a span of the prompt", prepare=_chat_row_edited(_end_counted_from_the_end)),
    # Spans that are not two numbers were tracebacks in the depth check, which reads them first.
    Case("validate a chat row whose input span is a number", ["validate", "chat"], 1,
         "metadata.input_span 7 is not a span", prepare=_chat_row_edited(lambda m, p: m.update(input_span=7))),
    Case("validate a row whose context span is null", ["validate", "chat"], 1, "metadata.context_span None is not",
         prepare=_chat_row_edited(lambda m, p: m.update(context_span=None))),
]  # fmt: skip


def _metadata_a_list_rehashed(folder: Path) -> None:
    """A shard whose first row's metadata is a JSON list, the manifest's hash of it updated; and a
    prediction for every row beside the folder."""
    import polars as pl

    shard = first_shard(folder)
    frame = pl.read_parquet(shard)
    metadata = frame["metadata"].to_list()
    metadata[0] = "[1, 2]"
    rewrite_first_shard(folder, frame.with_columns(pl.Series("metadata", metadata)))
    rows = pl.concat([pl.read_parquet(p) for p in sorted(folder.glob("*/*.parquet"))]).to_dicts()
    lines = [json.dumps({"id": r["id"], "prediction": " ".join(r["answers"])}) + "\n" for r in rows]
    (folder.parent / "preds.jsonl").write_text("".join(lines))


# A row's metadata that is not a JSON object (a list, null, a number, broken text) was a traceback in
# validate, score, audit and inspect, from wherever the metadata was first read. Now validate names
# the row; the others stop at it in one line (the metadata's one decoder, `decode_metadata`).
CASES += [
    Case("validate a row whose metadata is a list, its shard rehashed", ["validate", "built"], 1,
         "its metadata is not a JSON object (list)", built=_metadata_a_list_rehashed),
    Case("score a row whose metadata is a list, its shard rehashed", ["score", "built", "preds.jsonl", "-o", "out"],
         1, "its metadata is not a JSON object (list)", built=_metadata_a_list_rehashed),
    Case("audit a row whose metadata is a list, its shard rehashed", ["audit", "built"], 1,
         "its metadata is not a JSON object (list)", built=_metadata_a_list_rehashed),
    Case("inspect a row whose metadata is a list, its shard rehashed", ["inspect", "built"], 1,
         "its metadata is not a JSON object (list)", built=_metadata_a_list_rehashed),
]  # fmt: skip


def _column_rehashed(name: str, values: Callable[[int], list] | None) -> Callable[[Path], None]:
    """A tamper: the first shard's column `name` replaced by `values(rows)` (None: the column dropped),
    the manifest's hash of the shard updated; and a prediction for every row beside the folder."""

    def tamper(folder: Path) -> None:
        import polars as pl

        rows = pl.concat([pl.read_parquet(p) for p in sorted(folder.glob("*/*.parquet"))]).to_dicts()
        lines = [json.dumps({"id": r["id"], "prediction": " ".join(r["answers"])}) + "\n" for r in rows]
        (folder.parent / "preds.jsonl").write_text("".join(lines))
        shard = first_shard(folder)
        frame = pl.read_parquet(shard)
        frame = frame.drop(name) if values is None else frame.with_columns(pl.Series(name, values(len(frame))))
        rewrite_first_shard(folder, frame)

    return tamper


# A shard edited and rehashed whose columns are not the row schema's (answers as numbers, an id that
# is null, a reserve that is text, no metadata) passed the manifest's checks, and each command that
# read its rows failed with a traceback where it first used the odd value. The door now checks a
# shard's columns against the row schema when rows are read: one line, naming the shard and column.
SCORE = ["score", "built", "preds.jsonl", "-o", "out"]
CASES += [
    Case("score a shard whose answers are numbers", SCORE, 1, "its column 'answers' holds List(Int64)",
         built=_column_rehashed("answers", lambda n: [[1, 2]] * n)),
    Case("score a shard whose ids are null", SCORE, 1, "its column 'id' holds Null, not String",
         built=_column_rehashed("id", lambda n: [None] * n)),
    Case("validate a shard whose reserve is text", ["validate", "built"], 1, "its column 'reserve' holds String",
         built=_column_rehashed("reserve", lambda n: ["x"] * n)),
    Case("audit a shard without its metadata column", ["audit", "built"], 1, "no column 'metadata'",
         built=_column_rehashed("metadata", None)),
    Case("export a shard whose depths are text", ["export", "ruler", "built", "out"], 2,
         "its column 'depths' holds String", built=_column_rehashed("depths", lambda n: ["x"] * n)),
]  # fmt: skip


def _null_in_first_row(column: str) -> Callable[[Path], None]:
    """A tamper: the first row's `column` null (the others kept), the shard rehashed."""

    def tamper(folder: Path) -> None:
        import polars as pl

        shard = first_shard(folder)
        frame = pl.read_parquet(shard)
        nulls = pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col(column))
        rewrite_first_shard(folder, frame.with_columns(nulls.alias(column)))

    return tamper


# A null in one row's reserve or answers: validate names that row (the others are still checked),
# where it stopped with a traceback adding the reserve to the prompt's length; score stops in one line.
CASES += [
    Case("validate a row whose reserve is null", ["validate", "built"], 1, "its column 'reserve' is null",
         built=_null_in_first_row("reserve")),
    Case("validate a row whose answers are null", ["validate", "built"], 1, "its column 'answers' is null",
         built=_null_in_first_row("answers")),
]  # fmt: skip


def _metadata_field(key: str, value) -> Callable[[Path], None]:
    """A tamper: the first row's metadata field `key` set to `value`, the shard rehashed; and a
    prediction for every row beside the folder."""

    def tamper(folder: Path) -> None:
        import polars as pl

        frame = pl.read_parquet(first_shard(folder))
        rows = pl.concat([pl.read_parquet(p) for p in sorted(folder.glob("*/*.parquet"))]).to_dicts()
        lines = [json.dumps({"id": r["id"], "prediction": " ".join(r["answers"])}) + "\n" for r in rows]
        (folder.parent / "preds.jsonl").write_text("".join(lines))
        metadata = frame["metadata"].to_list()
        first = json.loads(metadata[0])
        first[key] = value
        metadata[0] = json.dumps(first)
        rewrite_first_shard(folder, frame.with_columns(pl.Series("metadata", metadata)))

    return tamper


# A family's own metadata field holding what the family never writes (the needles as a number, the
# parameters as null) was a traceback from deep inside the family in validate, score and audit.
CASES += [
    Case("validate a row whose needles are a number", ["validate", "built"], 1,
         "metadata.needles is not a list of items", built=_metadata_field("needles", 7)),
    Case("score a row whose needles are a number", SCORE, 1, "its metadata holds what its family does not read",
         built=_metadata_field("needles", 7)),
    Case("audit a row whose parameters are null", ["audit", "built"], 1,
         "its metadata holds what its family does not read", built=_metadata_field("params", None)),
]  # fmt: skip


# A corpus whose id field holds a list, an object or null: each was read as Python's spelling of it
# ("[7, 'x']" became a document id in every row that named it). Now one line, like a non-text text.
_ROW = '"text": "' + "word " * 50 + '"'
CASES += [
    Case(f"nextlong corpus whose ids are {kind}", ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl",
         "--lengths", "1k", "-o", "out"], 2, f"field 'id' holds {said}, not an id",
         write("c.jsonl", f'{{"id": 1, {_ROW}}}\n{{"id": {value}, {_ROW}}}\n'))
    for kind, value, said in (("lists", '[7, "x"]', "a list"), ("objects", '{"k": 1}', "an object"),
                              ("null", "null", "null"), ("true", "true", "a boolean"))
]  # fmt: skip


def _binary_text_corpus(root) -> None:
    import polars as pl

    pl.DataFrame({"id": ["a", "b"], "text": [b"word " * 50, b"more words " * 20]}).write_parquet(root / "c.parquet")


# A corpus text field that is not text is named in the file's own words: "holds a int", "holds a bytes"
# were Python's type names.
CASES += [
    Case(f"nextlong corpus whose text is {said}", ["build", "--generator", "nextlong", "--set",
         f"corpus={name}", "--lengths", "1k", "-o", "out"], 2, f"field 'text' holds {said}, not text", setup)
    for name, said, setup in (
        ("c.jsonl", "a number", write("c.jsonl", f'{{{_ROW}}}\n{{"text": 12345}}\n')),
        ("c.jsonl", "an object", write("c.jsonl", f'{{{_ROW}}}\n{{"text": {{"body": "x"}}}}\n')),
        ("c.jsonl", "a boolean", write("c.jsonl", f'{{{_ROW}}}\n{{"text": false}}\n')),
        ("c.parquet", "bytes (a binary column)", _binary_text_corpus),
    )
]  # fmt: skip


# A corpus id written as NaN or as a number too large for a float (1e400 reads as inf): each became the
# id "nan" or "inf" in the rows, a name the corpus never gave. Now one line naming the record and field.
CASES += [
    Case(f"nextlong corpus whose ids are {kind}", ["build", "--generator", "nextlong", "--set", "corpus=c.jsonl",
         "--lengths", "1k", "-o", "out"], 2, f"field 'id' holds {said}, a number that names no document",
         write("c.jsonl", f'{{"id": 1, {_ROW}}}\n{{"id": {value}, {_ROW}}}\n'))
    for kind, value, said in (("NaN", "NaN", "nan"), ("too large for a float", "1e400", "inf"),
                              ("minus infinity", "-Infinity", "-inf"))
]  # fmt: skip


# More tasks than a family has, naming ones it lacks: "tasks lists 10 values; at most 6 are allowed"
# (its task count plus one) did not say which. Now the first unknown one and the known ones; a list
# far longer than any family's is still refused by its length.
CASES += [
    Case("babilong asked for qa1 to qa10 (it has five)", ["build", "--generator", "babilong", "--task",
         ",".join(f"qa{n}" for n in range(1, 11)), "-o", "out"], 2,
         "unknown task 'qa6' for generator 'babilong'; known tasks: qa1, qa2, qa3, qa4, qa5"),
    Case("a task list of 100,000 names", ["build", "--generator", "babilong", "--task",
         ",".join(["qa1"] * 100_000), "-o", "out"], 2, "tasks lists 100000 values; at most 64 are allowed"),
]  # fmt: skip


# A float option set to NaN passed every range check (NaN compares false with both bounds): nextlong's
# overgeneration=nan ended in "ValueError: cannot convert float NaN to integer", exit 1, mid-build.
CASES += [
    Case(f"{generator} option {name}=nan", ["build", "--generator", generator, *extra, "--set", f"{name}=nan",
         "--lengths", "2k", "--samples", "1", "-o", "out"], 2, f"{name} must be a finite number, got nan")
    for generator, name, extra in (("nextlong", "overgeneration", ["--set", "corpus=builtin:300"]),
                                   ("ruler", "alpha", ["--task", "fwe"]), ("babilong", "spread", []))
]  # fmt: skip


def _tokenizer_json(pattern: str) -> Callable[[Path], None]:
    """A Hugging Face tokenizer (letters, digits and a few marks; anything else unknown) whose
    pre-tokenizer splits on `pattern`."""

    def prepare(root: Path) -> None:
        from tokenizers import Regex, Tokenizer, models, pre_tokenizers

        marks = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,"
        vocabulary = {"[UNK]": 0, **{c: n + 1 for n, c in enumerate(marks)}}
        tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
        (root / "tok").mkdir()
        tokenizer.save(str(root / "tok" / "tokenizer.json"))

    return prepare


def _sparse_file(name: str, size: int) -> Callable[[Path], None]:
    def prepare(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        with open(root / name, "wb") as handle:
            handle.truncate(size)  # (no disk used)

    return prepare


# Someone's tokenizer.json (`--tokenizer hf:<folder>`) whose pre-tokenizer splits on a regular
# expression that backtracks without end: the library's regex engine gives up on the first haystack
# and the library panics, a BaseException that ended the build in a traceback, exit 1 (and a Rust
# panic note on the terminal). The library now runs in a helper process: one line naming the tokenizer.
# A file far larger than any tokenizer was read whole into memory before; now it is refused unread.
CASES += [
    Case("hf tokenizer whose regex backtracks without end", ["build", "--tokenizer", "hf:tok", *SMALL, "-o", "out"],
         2, "tokenizer 'hf:tok' failed on a text: Onig: Regex search error",
         _tokenizer_json(r"(.|..)*(?!)")),
    Case("hf tokenizer.json nested deep", ["build", "--tokenizer", "hf:tok", *SMALL, "-o", "out"], 2,
         "tried: file tok/tokenizer.json", write("tok/tokenizer.json", "[" * 200_000 + "]" * 200_000)),
    Case("hf tokenizer file of 300 MB", ["build", "--tokenizer", "hf:tok", *SMALL, "-o", "out"], 2,
         "holds 314,572,800 bytes, more than the", _sparse_file("tok/tokenizer.json", 300 * 1024 * 1024)),
]  # fmt: skip


# A .txt corpus is one document, read whole: a file of gigabytes was read into memory (and a .jsonl
# line of any length). Now a .txt file over 512 MiB is refused unread (here a sparse one of 600 MiB).
CASES += [
    Case("a .txt corpus of 600 MiB", ["build", "--set", "haystack=corpus", "--set", "corpus=big.txt", *SMALL, "-o",
         "out"], 2, "and a .txt file is one document of at most 536,870,912", _sparse_file("big.txt", 600 << 20)),
]  # fmt: skip


def _model_folder_with_tokenizer(pattern: str) -> Callable[[Path], None]:
    """A dense encoder's model folder (safetensors weights) whose tokenizer.json splits on `pattern`."""
    make_tokenizer = _tokenizer_json(pattern)

    def prepare(root: Path) -> None:
        make_tokenizer(root)
        (root / "tok").rename(root / "model")
        (root / "model" / "model.safetensors").write_bytes(b"")

    return prepare


# A dense encoder's folder has its tokenizer.json loaded by the tokenizers library in the build's own
# process, out of the tokenizer helper's reach: only published tokenizers' expressions pass.
CASES += [
    Case("dense encoder folder whose tokenizer regex backtracks", ["build", "--generator", "nextlong", "--lengths",
         "1k", "--samples", "1", "--set", "corpus=builtin:30", "--set", "retriever=dense", "--set", "encoder=model",
         "-o", "out"], 2, "splits or rewrites text with the regular expression '(.|..)*(?!)'",
         _model_folder_with_tokenizer(r"(.|..)*(?!)")),
    Case("dense encoder folder whose config.json is nested 200,000 deep", ["build", "--generator", "nextlong",
         "--lengths", "1k", "--samples", "1", "--set", "corpus=builtin:30", "--set", "retriever=dense", "--set",
         "encoder=model", "-o", "out"], 2, "encoder folder 'model': config.json is not JSON",
         lambda root: (write("model/model.safetensors", "")(root),
                       write("model/config.json", "[" * 200_000 + "]" * 200_000)(root))),
]  # fmt: skip


# tiktoken's pre-tokenizer overflows its stack near a million blanks in a row (a Rust panic, no
# Exception): with chunks of up to a million characters, one such document reached it, and then
# stopped the build with one line; now the index leaves it out, and the build goes on.
CASES += [
    Case("nextlong corpus document with a million spaces in a row", ["build", "--generator", "nextlong", "--lengths",
         "1k", "--samples", "1", "--set", "corpus=c.jsonl", "--set", "chunk_size=1000000", "-o", "out"], 0,
         "wrote 1 row",
         write("c.jsonl", "".join(json.dumps({"id": f"d{n}", "text": ("start" + " " * 1_000_000 + "end. " if n == 3
                                   else "") + " ".join(f"word{i}" for i in range(300))}) + "\n" for n in range(40)))),
]  # fmt: skip


def _snapshot(root: Path, skip: set[str]) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skip or not path.is_file():
            continue
        found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile") / "built"
    result = CliRunner().invoke(cli, ["build", *SMALL, "--depths", "0,100", "--samples", "2", "-o", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case, tmp_path, monkeypatch, small_build):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "victim.txt").write_text("untouched")
    if case.prepare:
        case.prepare(tmp_path)
    if case.built:
        shutil.copytree(small_build, tmp_path / "built")
        case.built(tmp_path / "built")
    before = _snapshot(tmp_path, {"out", "cache"})
    start = time.monotonic()
    result = CliRunner().invoke(cli, case.args)
    elapsed = time.monotonic() - start
    assert isinstance(result.exception, SystemExit | None), f"crashed: {result.exception!r}"
    assert "Traceback" not in result.output
    assert result.exit_code == case.code, result.output
    errors = result.stderr.strip().splitlines()
    if case.code == 2:
        assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
        assert case.says in errors[0], errors[0]
    elif case.says:
        assert case.says in result.output, result.output
    assert elapsed < SECONDS
    assert _snapshot(tmp_path, {"out", "cache"}) == before, "a file outside the output folder and the cache changed"
    assert not (tmp_path / "pwned").exists()
    for path in case.absent:
        assert not Path(path).exists(), f"{path} was written"


def test_a_template_that_loops_for_hours_is_stopped(tmp_path, monkeypatch):
    """Nested loops over range (10^10 steps) in someone's template: one error line after the render
    budget, not a build that never ends. Packaged templates are not timed."""
    import longsynth.templating as templating
    from longsynth.generators.needle.generator import NeedleGenerator

    monkeypatch.setattr(templating, "RENDER_SECONDS", 0.5)
    monkeypatch.chdir(tmp_path)
    loop = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    write("tpl/needle/needle.j2", loop + "One hidden {{ kind }} for {{ key }} is {{ value }}.")(tmp_path)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["build", *SMALL, "--template-dir", "tpl", "-o", "out"], obj={})
    assert time.monotonic() - started < 30
    assert result.exit_code == 2 and "took more than 0.5 s to render" in result.output
    assert "Traceback" not in result.output
    assert not templating.Templates.for_family("needle", NeedleGenerator.template_folder, None).users


def test_a_tokenizer_that_backtracks_for_hours_is_stopped(tmp_path, monkeypatch):
    """A tokenizer.json whose regex backtracks just under its engine's limit: 23 ms a character, so a
    1K-token build took hours, and a call into the library cannot be interrupted. The library runs in
    a helper process; past its request's deadline (here 2 s instead of 30) it is killed, and the
    build ends in one error line."""
    import longsynth.hf_helper as hf_helper

    monkeypatch.setattr(hf_helper, "SECONDS", 2.0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    _tokenizer_json(r"(?:.|..){1,20}(?!)")(tmp_path)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["build", "--tokenizer", "hf:tok", *SMALL, "-o", "out"])
    assert time.monotonic() - started < 30
    assert result.exit_code == 2, result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "tokenizer 'hf:tok' failed on a text: it took more than 2 s" in errors[0]
    assert "Traceback" not in result.output


def test_a_tokenizer_helper_whose_build_died_ends_itself(tmp_path, monkeypatch):
    """The build is killed while its tokenizer helper is stuck in a request: no one is left to stop
    the helper, and the library it runs cannot be interrupted by a Python thread (it holds the
    interpreter lock). The helper ends itself a few seconds after the request's deadline."""
    import struct

    import longsynth.hf_helper as hf_helper

    monkeypatch.setattr(hf_helper, "SECONDS", 1.0)
    _tokenizer_json(r"(?:.|..){1,20}(?!)")(tmp_path)
    helper = hf_helper.TokenizerProcess(str(tmp_path / "tok" / "tokenizer.json"))
    helper.ask(hf_helper.IDS, b"")  # started and loaded
    process = helper._process
    text = b"hello world " * 200  # about a minute of work
    process.stdin.write(hf_helper.IDS + struct.pack("<Q", len(text)) + text)
    process.stdin.flush()  # and nobody waits for the answer, as after the build's death
    started = time.monotonic()
    process.wait(timeout=30)
    assert time.monotonic() - started < 15
    helper._process = None


def test_a_corpus_record_longer_than_a_document_may_be_is_refused(tmp_path, monkeypatch):
    """A .jsonl corpus line is read up to the document limit and no further (here 5,000 characters
    instead of 512 MiB): one line naming the file and line, not a record of any size in memory."""
    from longsynth.text import sources

    monkeypatch.setattr(sources, "MAX_DOCUMENT_BYTES", 5_000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    write("c.jsonl", json.dumps({"text": "Short text. " * 20}) + "\n" + json.dumps({"text": "word " * 2_000}))(tmp_path)
    args = ["build", "--set", "haystack=corpus", "--set", "corpus=c.jsonl", *SMALL, "-o", "out"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "c.jsonl line 2 holds more than 5,000 characters" in errors[0]


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"  # a window title, a cleared screen, a C1 CSI, a right-to-left override


def test_someone_elses_text_reaches_the_terminal_escaped(tmp_path, monkeypatch, small_build):
    """A dataset whose rows hold terminal escape sequences (edited and rehashed) and a spec value
    holding them: `inspect`, `inspect --json`, `validate` and an error line show each control
    character as its \\uXXXX escape, never the character a terminal acts on; the JSON stays JSON."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    shutil.copytree(small_build, tmp_path / "built")
    _column_rehashed("input", lambda n: [f"Plain text {ESCAPES} more text."] * n)(tmp_path / "built")
    _column_rehashed("answers", lambda n: [[f"4{ESCAPES}2"]] * n)(tmp_path / "built")
    runs = {
        "inspect": CliRunner().invoke(cli, ["inspect", "built"]),
        "inspect --json": CliRunner().invoke(cli, ["inspect", "built", "--json"]),
        "validate": CliRunner().invoke(cli, ["validate", "built"]),
        "an error": CliRunner().invoke(cli, ["build", "--task", f"niah{ESCAPES}", "-o", "out"]),
    }
    for name, result in runs.items():
        shown = result.output + (result.stderr or "")
        assert not any(c in shown for c in "\x1b\x07\x9b\u202e"), (name, shown)
        if name != "an error":  # (that one quotes the task with repr, which escapes as \x1b: also safe)
            assert "\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u202e" in shown, (name, shown)
    assert runs["inspect"].exit_code == 0 and runs["validate"].exit_code == 1 and runs["an error"].exit_code == 2
    assert json.loads(runs["inspect --json"].output)["input"] == f"Plain text {ESCAPES} more text."
