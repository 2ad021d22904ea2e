"""The holobench family's options."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import SET, When, option

PLACEMENTS = ("uniform", "begin", "middle", "end", "bimodal")
BUILT_IN_DATABASES = ("retail", "university", "films")
USER_DATABASE = When("a user database (a path)", lambda value: value not in BUILT_IN_DATABASES)


@dataclass(frozen=True)
class HoloBenchOptions:
    database: str = option(
        "retail",
        "built-in database (retail, university, films) or a path: .sqlite/.db, "
        ".duckdb, or a folder of .csv/.parquet tables",
    )
    row_templates: str = option(
        "", "folder of <table>.j2 row templates for a user database", needs=("database", USER_DATABASE)
    )
    difficulty: str = option("easy", "query complexity", choices=("easy", "medium", "hard"))
    info_amount: int = option(0, "tokens of relevant rows (0: use info_density)", minimum=0, maximum=2 * 1024 * 1024)
    info_density: float = option(
        0.5, "share of the context taken by relevant rows", above=0.0, maximum=1.0, needs=("info_amount", 0)
    )
    placement: str = option("uniform", "where relevant rows go", choices=PLACEMENTS)
    max_answer_rows: int = option(
        0,
        "the most result rows an answer may have (0: no cap, as in the paper; each row's reserve then "
        "grows with its answer unless reserve is set)",
        minimum=0,
        maximum=100_000,
    )
    empty_share: float = option(
        0.0,
        "share of filter and join questions whose answer is empty ('none')",
        minimum=0.0,
        maximum=1.0,
        tasks=("holo_filter", "holo_join"),
    )
    sql: str = option("", "your own query (tasks then only label the config)")
    question: str = option("", "the question text for --set sql", needs=("sql", SET))
