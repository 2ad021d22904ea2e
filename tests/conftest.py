"""Shared fixtures: one small needle build reused by many tests (kept fast, no network)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHOW_TASKS = "niah_single_1,niah_single_3,niah_multikey_1,niah_multikey_3,niah_multivalue,niah_multiquery"


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
