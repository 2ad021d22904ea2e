"""Issue 6: shards, workers, Ray, resume after SIGKILL, Hub push, versioned cards, to_hf_dataset."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import longsynth
from longsynth.cli import cli
from longsynth.pipeline import build, rows_per_shard
from longsynth.spec import load_spec


def _hashes(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".longsynth" not in p.parts
    }


def _spec(**extra):
    return load_spec(
        None,
        tasks="niah_single_1,niah_multikey_2",
        lengths="2k,4k",
        depths="0,50,100",
        samples=3,
        rows_per_shard=8,
        **extra,
    )


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    return build(_spec(), tmp_path_factory.mktemp("w1") / "ds")


def test_shard_names_and_counts(one_worker):
    files = sorted(p.name for p in (one_worker / "niah_single_1").glob("*.parquet"))
    assert files == [f"test-0000{k}-of-00003.parquet" for k in range(3)]


@pytest.mark.slow
def test_two_workers_write_the_same_bytes(one_worker, tmp_path):
    assert _hashes(build(_spec(), tmp_path / "w2", workers=2)) == _hashes(one_worker)


@pytest.mark.slow
def test_local_workers_are_at_most_one_per_core(one_worker, tmp_path, monkeypatch):
    """`--workers 16` on a machine of 2 cores starts 2 processes (16 built 32 small shards 5 times
    slower than 2, with 1.3 GB more memory), and the bytes are the same."""
    import longsynth.pipeline as pipeline

    started = []
    real = pipeline.process_pool
    monkeypatch.setattr(pipeline, "available_cores", lambda: 2)
    monkeypatch.setattr(pipeline, "process_pool", lambda workers: started.append(workers) or real(workers))
    assert _hashes(build(_spec(), tmp_path / "w16", workers=16)) == _hashes(one_worker)
    assert started == [2]


def test_a_local_ray_instance_gets_at_most_the_machines_cores(monkeypatch):
    """`--backend ray --workers 64` with no cluster address starts Ray on this machine with its cores
    (2 here), not 64 CPUs it does not have; a cluster's address is used as given."""
    import types

    import longsynth.pipeline as pipeline

    started = []
    record = started.append
    fake = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: record(kw), shutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(pipeline, "available_cores", lambda: 2)
    monkeypatch.setattr(pipeline, "_check_reachable", lambda address: None)
    with pipeline._ray_session(None, 64):
        pass
    with pipeline._ray_session("10.0.0.1:6379", 64):
        pass
    assert started[0]["num_cpus"] == 2 and "num_cpus" not in started[1] and started[1]["address"] == "10.0.0.1:6379"


@pytest.mark.slow
def test_ray_backend_writes_the_same_bytes(one_worker, tmp_path):
    pytest.importorskip("ray")
    assert _hashes(build(_spec(), tmp_path / "ray", workers=2, backend="ray")) == _hashes(one_worker)


def test_byte_cap_lowers_rows_per_shard(tmp_path):
    spec = _spec(max_shard_bytes=4096 * 4 * 3)
    assert rows_per_shard(spec) == 2
    out = build(spec, tmp_path / "cap")
    assert len(list((out / "niah_single_1").glob("*.parquet"))) == 9


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_clean_bytes(tmp_path):
    args = [
        "--task",
        "niah_single_1",
        "--lengths",
        "128k",
        "--depths",
        "50",
        "--samples",
        "16",
        "--set",
        "rows_per_shard=1",
    ]
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "longsynth.cli", "build", *args, "-o", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(killed.glob("niah_single_1/*.parquet"))) < 2:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 2 <= len(list(killed.glob("niah_single_1/*.parquet"))) < 16
    assert not (killed / "manifest.json").exists()
    assert CliRunner().invoke(cli, ["build", *args, "-o", str(killed)], obj={}).exit_code == 0
    clean = tmp_path / "clean"
    assert CliRunner().invoke(cli, ["build", *args, "-o", str(clean)], obj={}).exit_code == 0
    assert _hashes(killed) == _hashes(clean)
    assert not [p for p in killed.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------ cards and manifests


def test_versioned_card_and_manifest(tmp_path):
    spec = _spec(version="2.1.0", license="mit")
    out = build(spec, tmp_path / "v")
    card = (out / "README.md").read_text()
    assert "version 2.1.0" in card and "license: mit" in card
    assert (
        "| niah_single_1 | 18 | 2048, 4096 |" in card
        and "prompt + reserve: range" in card
        and "Length contract" in card
    )
    assert "Hsieh et al., RULER" in card and "longsynth build --generator needle" in card
    assert "rows_per_shard: 8" in card  # the embedded spec
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == "2.1.0"
    again = build(
        load_spec(
            None,
            tasks="niah_single_1,niah_multikey_2",
            lengths="2k,4k",
            depths="0,50,100",
            samples=3,
            rows_per_shard=8,
            version="2.1.0",
            license="mit",
        ),
        tmp_path / "v2",
    )
    assert json.loads((again / "manifest.json").read_text())["files"] == manifest["files"]


def test_rebuild_command_in_the_card_rebuilds_the_bytes(tmp_path):
    out = build(_spec(version="3.0.0"), tmp_path / "a")
    command = next(line for line in (out / "README.md").read_text().splitlines() if line.startswith("longsynth build"))
    args = command.split()[2:]
    args[args.index("OUTPUT_DIR")] = str(tmp_path / "b")
    result = CliRunner().invoke(cli, ["build", *args], obj={})
    assert result.exit_code == 0, result.output
    assert _hashes(out) == _hashes(tmp_path / "b")


# ------------------------------------------------------------------ push


def test_push_dry_run_lists_the_card_manifest_and_shards(one_worker):
    result = CliRunner().invoke(cli, ["push", str(one_worker), "me/niah", "--dry-run"], obj={})
    assert result.exit_code == 0
    listed = result.output.splitlines()[:-1]
    assert "README.md" in listed and "manifest.json" in listed
    assert sum(name.endswith(".parquet") for name in listed) == 6
    assert not any(".longsynth" in name for name in listed)


def test_push_drives_the_real_upload_up_to_http(one_worker, monkeypatch, tmp_path, caplog):
    import huggingface_hub
    import huggingface_hub.utils._http as hub_http

    transport_module = __import__(
        hub_http.__dict__.get("httpx2", None).__name__ if "httpx2" in hub_http.__dict__ else "httpx"
    )
    token = "hf_supersecret_token_0123456789"
    seen = []

    def handler(request):
        seen.append(request)
        path = request.url.path
        if path.endswith("/api/repos/create"):
            return transport_module.Response(200, json={"url": "https://huggingface.co/datasets/me/niah"})
        if path.endswith("/api/validate-yaml"):
            return transport_module.Response(200, json={"errors": [], "warnings": []})
        if "/preupload/" in path:
            files = json.loads(request.content)["files"]
            return transport_module.Response(
                200,
                json={"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
            )
        if "/commit/" in path:
            return transport_module.Response(
                200, json={"commitUrl": "https://huggingface.co/datasets/me/niah/commit/1", "commitOid": "a" * 40}
            )
        if "/tag/" in path:
            return transport_module.Response(200, json={})
        return transport_module.Response(404, json={"error": "not mocked"})

    huggingface_hub.set_client_factory(
        lambda: transport_module.Client(transport=transport_module.MockTransport(handler))
    )
    try:
        result = CliRunner().invoke(
            cli, ["push", str(one_worker), "me/niah", "--token", token, "--private", "--tag", "v1.0"], obj={}
        )
    finally:
        huggingface_hub.set_client_factory(hub_http.default_client_factory)
    assert result.exit_code == 0, result.output
    # The release tag points at the upload's commit.
    tagged = next(r for r in seen if "/tag/" in r.url.path)
    assert tagged.url.path.endswith("/tag/" + "a" * 40) and json.loads(tagged.content)["tag"] == "v1.0"
    assert "tagged v1.0" in result.output
    # The card's YAML follows the Hub's conventions, and the canary is in the card and every row.
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(one_worker / "README.md")
    assert card.data.pretty_name and card.data.language == ["en"] and card.data.task_categories
    configs = [c["config_name"] for c in card.data.dataset_info]
    assert card.data.size_categories and configs == ["niah_single_1", "niah_multikey_2"]
    canary = json.loads(one_worker.joinpath("manifest.json").read_text())
    rows = pl.read_parquet(sorted(one_worker.glob("niah_single_1/*.parquet"))).to_dicts()
    guids = {json.loads(r["metadata"])["canary"] for r in rows}
    assert len(guids) == 1 and f"canary GUID {guids.pop()}" in (one_worker / "README.md").read_text()
    assert canary["spec"]["version"]
    create = next(r for r in seen if r.url.path.endswith("/api/repos/create"))
    created = json.loads(create.content)
    assert created.get("visibility") == "private" or created.get("private") is True
    commit = next(r for r in seen if "/commit/" in r.url.path)
    body = commit.content.decode()
    for name in ("README.md", "manifest.json", "niah_single_1/test-00000-of-00003.parquet"):
        assert name in body
    assert ".longsynth" not in body
    assert all(
        r.headers.get("authorization") == f"Bearer {token}"
        for r in seen
        if "/api/" in r.url.path and "agent" not in r.url.path
    )
    # the token reaches nothing written, printed or logged
    assert token not in result.output and token not in caplog.text
    for path in one_worker.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes()


def test_push_errors_are_one_line_without_the_token(one_worker, monkeypatch):
    import huggingface_hub
    import huggingface_hub.utils._http as hub_http

    transport_module = __import__("httpx2" if "httpx2" in hub_http.__dict__ else "httpx")
    token = "hf_another_secret_987654321"

    def handler(request):
        return transport_module.Response(401, json={"error": f"Invalid token {token}"})

    huggingface_hub.set_client_factory(
        lambda: transport_module.Client(transport=transport_module.MockTransport(handler))
    )
    try:
        result = CliRunner().invoke(cli, ["push", str(one_worker), "me/niah", "--token", token], obj={})
    finally:
        huggingface_hub.set_client_factory(hub_http.default_client_factory)
    assert result.exit_code == 2
    assert token not in result.output and result.output.startswith("error: upload to 'me/niah' failed")


def test_push_refuses_a_folder_that_does_not_match_its_manifest(tmp_path):
    out = build(_spec(), tmp_path / "bad")
    next(out.glob("niah_single_1/*.parquet")).write_bytes(b"changed")
    result = CliRunner().invoke(cli, ["push", str(out), "me/x", "--dry-run"], obj={})
    assert result.exit_code == 2 and "does not match its manifest" in result.output


# ------------------------------------------------------------------ to_hf_dataset


def test_to_hf_dataset_from_folder_and_from_spec(one_worker, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    from_folder = longsynth.to_hf_dataset(one_worker)
    assert set(from_folder) == {"niah_single_1", "niah_multikey_2"} and from_folder["niah_single_1"].num_rows == 18
    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=2)
    first = longsynth.to_hf_dataset(spec)["niah_single_1"]
    again = longsynth.to_hf_dataset(spec)["niah_single_1"]
    assert first._fingerprint == again._fingerprint and first.cache_files == again.cache_files
    other = longsynth.to_hf_dataset(
        load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=2, seed=9)
    )["niah_single_1"]
    assert other._fingerprint != first._fingerprint
    built = longsynth.build(spec, tmp_path / "b")
    import polars as pl

    assert first.to_list() == pl.read_parquet(built / "niah_single_1" / "*.parquet").to_dicts()
    # A folder and a spec give the same features, so the two concatenate.
    read_back = longsynth.to_hf_dataset(built)["niah_single_1"]
    assert read_back.features == first.features
    import datasets

    assert datasets.concatenate_datasets([first, read_back]).num_rows == 2 * first.num_rows


@pytest.mark.slow
@pytest.mark.parametrize(
    "generator, tasks",
    [("longbio", "bio_standard,bio_citation"), ("holobench", "holo_group,holo_join"), ("nextlong", "nextlong")],
)
def test_every_family_is_byte_identical_across_workers(tmp_path, monkeypatch, generator, tasks):
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    extra = {"corpus": "builtin:300"} if generator == "nextlong" else {}
    spec = load_spec(None, generator=generator, tasks=tasks, lengths="4k", samples=4, rows_per_shard=2, **extra)
    assert _hashes(build(spec, tmp_path / "one")) == _hashes(build(spec, tmp_path / "two", workers=2))


@pytest.mark.slow
def test_unreachable_ray_address_fails_fast(tmp_path):
    pytest.importorskip("ray")
    start = time.time()
    result = CliRunner().invoke(
        cli,
        ["build", "--lengths", "1k", "--backend", "ray", "--ray-address", "127.0.0.1:1", "-o", str(tmp_path / "o")],
        obj={},
    )
    assert result.exit_code == 2 and "cannot reach a Ray cluster" in result.output
    assert time.time() - start < 30


@pytest.mark.parametrize(
    "generator, tasks",
    [
        ("needle", "niah_single_1,niah_multikey_2"),
        ("longbio", "bio_standard,bio_citation"),
        ("holobench", "holo_filter,holo_extreme,holo_join"),
        ("nextlong", "nextlong,concat_knn"),
    ],
)
def test_threads_change_speed_not_bytes(tmp_path, monkeypatch, generator, tasks):
    """With 2 threads one sample is encoded while the next is generated; rows stay in order and
    every byte matches a one-thread build."""
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    extra = {"corpus": "builtin:300"} if generator == "nextlong" else {}
    spec = load_spec(None, generator=generator, tasks=tasks, lengths="2k,4k", samples=5, rows_per_shard=6, **extra)
    one = build(spec, tmp_path / "one", threads=1)
    assert _hashes(build(spec, tmp_path / "two", threads=2)) == _hashes(one)


def test_ray_ships_the_index_to_workers_instead_of_building_it_again(tmp_path, monkeypatch):
    """Workers whose cache lacks the index (as on another machine) get it from Ray's object store:
    one index build in all, and the same bytes as a one-process build."""
    ray = pytest.importorskip("ray")
    driver, workers = tmp_path / "driver-cache", tmp_path / "worker-cache"
    monkeypatch.setenv("LONGSYNTH_CACHE", str(driver))
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="2k", samples=4, corpus="builtin:300", rows_per_shard=1
    )
    one = build(spec, tmp_path / "one")
    ray.init(
        address="local",  # (not another Ray instance running here: the next test process may have one)
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"LONGSYNTH_CACHE": str(workers)}},
    )
    try:
        shipped = build(spec, tmp_path / "ray", workers=2, backend="ray")
    finally:
        ray.shutdown()
    assert _hashes(shipped) == _hashes(one)
    assert len((driver / "index" / "builds.log").read_text().splitlines()) == 1
    assert not (workers / "index" / "builds.log").exists()  # no worker built an index
    [folder] = [p for p in (driver / "index").iterdir() if p.is_dir()]
    copy = workers / "index" / folder.name
    assert sorted(p.name for p in copy.rglob("*")) == sorted(p.name for p in folder.rglob("*"))
    for f in folder.rglob("*"):
        if f.is_file():
            assert (copy / f.relative_to(folder)).read_bytes() == f.read_bytes()


def test_to_hf_dataset_reads_a_folder_named_like_a_pattern(one_worker, tmp_path, monkeypatch):
    """Shard paths are literal (escaped for datasets' pattern matching): `o[1] *` is a folder's name."""
    import shutil

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    odd = tmp_path / "o[1] *"
    shutil.copytree(one_worker, odd)
    shutil.copytree(one_worker, tmp_path / "o1 decoy")  # what the pattern would also match
    read = longsynth.to_hf_dataset(odd)
    assert read["niah_single_1"].num_rows == 18


def test_diff_of_two_versions_and_the_changelog_in_the_card(tmp_path):
    """`longsynth diff A B`: the spec's differences, and per task rows added, removed and changed (the
    canary, new with every version, does not count as a change); `build --previous A` writes the same
    into B's card, and B still validates."""
    from longsynth.compare import compare
    from longsynth.inspect import validate_directory

    base = ["build", "--generator", "needle", "--task", "niah_single_1,niah_multikey_1", "--samples", "2"]
    old, new = tmp_path / "v1", tmp_path / "v2"
    assert CliRunner().invoke(cli, [*base, "--lengths", "1k", "-o", str(old)]).exit_code == 0
    made = CliRunner().invoke(
        cli,
        [
            *base,
            "--lengths",
            "1k,2k",
            "--set",
            "version=1.1.0",
            "--set",
            "seed=0",
            "-o",
            str(new),
            "--previous",
            str(old),
        ],
    )
    assert made.exit_code == 0, made.output
    found = compare(old, new)
    assert found["versions"] == ["1.0.0", "1.1.0"]
    assert found["spec"] == {"lengths": [[1024], [1024, 2048]], "version": ["1.0.0", "1.1.0"]}
    assert found["tasks"]["niah_single_1"] == {"old": 6, "new": 12, "added": 6, "removed": 0, "changed": 0}
    card = (new / "README.md").read_text()
    assert "## Changes" in card and "| niah_single_1 | 6 | 12 | 6 | 0 | 0 |" in card
    assert validate_directory(new).problems == []
    # Another seed changes every row; fewer lengths remove rows.
    other = tmp_path / "v3"
    assert CliRunner().invoke(cli, [*base, "--lengths", "2k", "--seed", "5", "-o", str(other)]).exit_code == 0
    shown = CliRunner().invoke(cli, ["diff", str(new), str(other)])
    assert shown.exit_code == 0 and "| niah_single_1 | 12 | 6 | 0 | 6 | 6 |" in shown.output
    assert "| seed | 0 | 5 |" in shown.output


@pytest.mark.slow
@pytest.mark.parametrize("shared_cache", [False, True])
def test_ray_builds_the_index_parts_on_two_nodes(tmp_path, monkeypatch, shared_cache):
    """On a local Ray cluster of two nodes, an index of two parts is built by two Ray tasks in two
    worker processes (none by the driver), either sent back through the object store or written in
    place in a shared cache folder; the rows are byte-identical to a one-process build of two parts."""
    pytest.importorskip("ray")
    import ray
    from ray.cluster_utils import Cluster

    spec = load_spec(
        None,
        generator="nextlong",
        tasks="nextlong,concat_knn",
        lengths="2k",
        samples=3,
        corpus="builtin:300",
        index_shards=2,
        rows_per_shard=2,
    )
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "one-process-cache"))
    monkeypatch.setattr(
        "longsynth.generators.nextlong.retrieval.available_cores", lambda: 1
    )  # both parts in this process
    one = build(spec, tmp_path / "one")
    assert {
        line.rsplit("pid=", 1)[1]
        for line in (tmp_path / "one-process-cache/index/builds.log").read_text().splitlines(keepends=True)
    } == {f"{os.getpid()}\n"}
    monkeypatch.undo()
    driver, nodes = tmp_path / "driver-cache", tmp_path / "node-cache"
    monkeypatch.setenv("LONGSYNTH_CACHE", str(driver))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, runtime_env={"env_vars": {"LONGSYNTH_CACHE": str(nodes)}})
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        built = build(spec, tmp_path / "ray", workers=2, backend="ray", shared_cache=shared_cache)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert _hashes(built) == _hashes(one)
    log = (driver if shared_cache else nodes) / "index" / "builds.log"
    lines = log.read_text().splitlines()
    assert sorted(line.split()[0].rsplit("-", 1)[1] for line in lines) == ["part1of2", "part2of2"]
    pids = {line.rsplit("pid=", 1)[1] for line in lines}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # two worker processes, not the driver
    if not shared_cache:
        assert not (driver / "index" / "builds.log").exists()  # the driver built no part: it got them
    parts = sorted(p.name for p in (driver / "index").iterdir() if p.is_dir())
    assert [p.rsplit("-", 1)[1] for p in parts] == ["part1of2", "part2of2"]


@pytest.mark.slow
def test_index_parts_build_in_local_processes_with_the_same_bytes(tmp_path, monkeypatch):
    """Without Ray, an index of two parts builds in two processes of this machine (one per core), and
    the rows are those of building both parts in this process."""
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="2k", samples=3, corpus="builtin:300", index_shards=2
    )
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "here"))
    monkeypatch.setattr("longsynth.generators.nextlong.retrieval.available_cores", lambda: 1)
    here = build(spec, tmp_path / "here-out")
    monkeypatch.setattr("longsynth.generators.nextlong.retrieval.available_cores", lambda: 2)
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "pool"))
    pool = build(spec, tmp_path / "pool-out")
    assert _hashes(pool) == _hashes(here)
    pids = {line.rsplit("pid=", 1)[1].strip() for line in (tmp_path / "pool/index/builds.log").read_text().splitlines()}
    assert len(pids) == 2 and str(os.getpid()) not in pids


@pytest.mark.slow
@pytest.mark.slow
def test_a_ray_build_without_an_address_starts_its_own_instance(tmp_path, monkeypatch):
    """Without --ray-address, a Ray build starts a private local instance, even with another Ray
    instance running on the machine (Ray's default `ray.init()` joined it, and refused our CPU count:
    exit 1), and writes a local build's bytes; Ray's own RAY_ADDRESS names a cluster as the flag does."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    args = ["build", "--task", "niah_single_1", "--lengths", "1k", "--samples", "2"]
    local = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    other = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        result = CliRunner().invoke(cli, [*args, "--backend", "ray", "--workers", "2", "-o", str(tmp_path / "ray")])
        assert result.exit_code == 0, result.output
        assert _hashes(tmp_path / "ray") == _hashes(tmp_path / "local")
    finally:
        other.shutdown()
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # (nothing listens there)
    result = CliRunner().invoke(cli, [*args, "--backend", "ray", "-o", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "cannot reach a Ray cluster at '127.0.0.1:1'" in result.output, result.output


def test_a_bad_index_part_on_ray_is_one_line(tmp_path, monkeypatch):
    """A part that fails in its Ray task (here: a part of a one-document corpus gets no text) is the
    family's one-line error through the CLI, exit code 2, not Ray's traceback."""
    pytest.importorskip("ray")
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "one.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "A single short document.\n" * 40}) + "\n")
    args = ["build", "--generator", "nextlong", "--lengths", "1k", "--samples", "1", "--backend", "ray"]
    args += ["--workers", "2", "--set", f"corpus={corpus}", "--set", "index_shards=2", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "part 2 of 2" in result.output and "fewer index_shards" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_to_hf_dataset_checks_a_shards_columns_at_the_door(tmp_path, monkeypatch):
    """`to_hf_dataset` hands the shard files to `datasets` itself, past the door's row reading: a shard
    edited and rehashed whose column holds another type is refused first, as every command refuses it."""
    import hashlib
    import json

    import polars as pl

    from longsynth.errors import DamagedOutput

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    built = longsynth.build(load_spec(None, tasks="niah_single_1", lengths="1k", samples=2), tmp_path / "b")
    (shard,) = sorted(built.glob("niah_single_1/*.parquet"))
    frame = pl.read_parquet(shard)
    frame.with_columns(pl.Series("answers", [[7]] * len(frame))).write_parquet(shard)
    manifest = json.loads((built / "manifest.json").read_text())
    manifest["files"][str(shard.relative_to(built))] = hashlib.sha256(shard.read_bytes()).hexdigest()
    (built / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedOutput, match="its column 'answers' holds List\\(Int64\\)"):
        longsynth.to_hf_dataset(built)
