"""Shared fixtures (kept fast, no network), and the example third-party family installed for the session.

`examples/toy-family` is pip-installed (offline, no build isolation) into a private folder put on
`sys.path`, exactly as `pip install ./examples/toy-family` would make it importable: longsynth finds
it through its entry point, so the contract suite runs over it like any built-in family. Tests that
start a process pass the folder on through PYTHONPATH (`plugin_env`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The session's own cache folder (each xdist worker its own), never the user's ~/.cache/longsynth: a run
# starts cold, as on a fresh machine, and leaves nothing behind. (The suite used to fill the user's cache,
# 90 MB, and every later run was timed warm.) Child processes inherit it; a test that means another
# cache sets its own.
_CACHE = Path(tempfile.mkdtemp(prefix="longsynth-test-cache-"))
os.environ["LONGSYNTH_CACHE"] = str(_CACHE)
# ... and Hugging Face's home (`datasets`' Arrow cache, where `to_hf_dataset` materializes rows as any
# `datasets.Dataset` does; the Hub cache; hf_xet's logs): the suite had left 131 MB in
# ~/.cache/huggingface. Read when those packages are imported; a test that means a Hub cache makes one.
os.environ["HF_HOME"] = str(_CACHE / "huggingface")
os.environ["HF_DATASETS_CACHE"] = str(_CACHE / "huggingface" / "datasets")
for _name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_XET_CACHE"):  # (these would override HF_HOME)
    os.environ.pop(_name, None)

ROOT = Path(__file__).resolve().parents[1]
TOY_FAMILY = ROOT / "examples" / "toy-family"
SHOW_TASKS = "niah_single_1,niah_single_3,niah_multikey_1,niah_multikey_3,niah_multivalue,niah_multiquery"
_PLUGINS: dict[str, Path] = {}


def install_package(source: Path, into: Path) -> None:
    """`pip install` a package folder into `into` (a copy is built, so the source stays clean)."""
    build = into.parent / f"{source.name}-src"
    shutil.copytree(source, build, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    command.append("--no-cache-dir")  # (its wheel is not kept in the user's pip cache)
    subprocess.run([*command, "--target", str(into), str(build)], check=True, capture_output=True, timeout=300)


def pytest_configure(config):
    folder = Path(tempfile.mkdtemp(prefix="longsynth-plugins-"))
    install_package(TOY_FAMILY, folder / "site")
    _PLUGINS["site"] = folder / "site"
    sys.path.insert(0, str(folder / "site"))
    from longsynth.generators.registry import REGISTRY  # after sys.path has the plugin

    REGISTRY.refresh()


def pytest_unconfigure(config):
    if "site" in _PLUGINS:
        shutil.rmtree(_PLUGINS["site"].parent, ignore_errors=True)
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def plugin_env() -> dict[str, str]:
    """The environment a child process needs to see the session's installed plugins."""
    paths = [str(_PLUGINS["site"]), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture(scope="session")
def tokenizer():
    from longsynth.tokenizers import get_tokenizer

    return get_tokenizer("cl100k_base")


@pytest.fixture(scope="session")
def show_build(tmp_path_factory):
    """The build named in issue 2's Show section."""
    from longsynth.pipeline import build
    from longsynth.spec import load_spec

    spec = load_spec(None, tasks=SHOW_TASKS, lengths="4k,16k", depths="0,50,100", samples=2)
    out = tmp_path_factory.mktemp("show") / "ds"
    build(spec, out)
    return spec, out
