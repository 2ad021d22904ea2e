"""Golden builds: fixed small specs per family and the sha256 of every file they write.

A refactor must not change a byte. A change of output on purpose updates `hashes.json` in the same
commit (run `LONGSYNTH_RECORD_GOLDEN=1 pytest tests/golden`) and says why in its message.

Parquet files carry the writer's version, and the manifest records library versions, so raw bytes
are compared only when polars and the tokenizer are the versions recorded; the rows themselves (a
canonical JSON digest per file, and the manifest without its version fields) are compared always.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import polars as pl
import pytest

from longsynth.pipeline import build
from longsynth.spec import load_spec

GOLDEN = Path(__file__).with_name("hashes.json")
SPECS = {
    "babilong": dict(generator="babilong", tasks="qa1,qa2,qa3,qa4,qa5", lengths="1k,2k", depths="0,100"),
    "needle": dict(generator="needle", tasks="niah_single_1,niah_multikey_1", lengths="1k,2k", depths="0,100"),
    "longbio": dict(generator="longbio", tasks="bio_standard,bio_citation", lengths="1k,2k", depths="0,100"),
    "holobench": dict(generator="holobench", tasks="holo_filter,holo_join", lengths="2k,4k"),
    "nextlong": dict(generator="nextlong", tasks="nextlong,concat_random", lengths="1k,2k", corpus="builtin:200"),
    "ruler": dict(generator="ruler", tasks="vt,cwe,fwe,qa_1,qa_2,niah_single_2", lengths="1k,2k", depths="0,100"),
    "needlebench": dict(
        generator="needlebench",
        tasks="multi_retrieval,multi_reasoning,ancestral_trace",
        lengths="1k,2k",
        depths="0,100",
    ),
}
VERSION_FIELDS = ("longsynth_version", "versions")


def _digests(out: Path) -> dict[str, dict[str, str]]:
    files, contents = {}, {}
    for path in sorted(out.rglob("*")):
        if not path.is_file() or ".longsynth" in path.parts:
            continue
        name = str(path.relative_to(out))
        files[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        if path.suffix == ".parquet":
            rows = pl.read_parquet(path).to_dicts()
            blob = json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()
        elif path.name == "manifest.json":
            manifest = json.loads(path.read_text())
            for field in VERSION_FIELDS:
                manifest.pop(field, None)
            # The manifest hashes the shards, whose bytes carry the writer's version.
            manifest.pop("files", None)
            blob = json.dumps(manifest, sort_keys=True).encode()
        else:
            blob = path.read_bytes()
        contents[name] = hashlib.sha256(blob).hexdigest()
    return {"files": files, "contents": contents}


def _versions(out: Path) -> dict[str, str]:
    versions = json.loads((out / "manifest.json").read_text())["versions"]
    return {"polars": versions["polars"], "tokenizer": versions["tokenizer"]}


@pytest.mark.parametrize("family", sorted(SPECS))
def test_golden_build(family, tmp_path, monkeypatch):
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    spec = load_spec(None, samples=2, rows_per_shard=3, **SPECS[family])
    out = build(spec, tmp_path / family)
    got = {**_digests(out), "versions": _versions(out)}
    if os.environ.get("LONGSYNTH_RECORD_GOLDEN"):
        recorded = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        recorded[family] = got
        GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        return
    want = json.loads(GOLDEN.read_text())[family]
    assert got["contents"] == want["contents"]
    if got["versions"] == want["versions"]:
        assert got["files"] == want["files"]
