"""The documentation's examples run as written: every ```bash and ```python block of the README, then
of each page under docs/, in order, in one fresh folder (later blocks use the files earlier ones
make, as a reader following the README would), with the installed `longsynth` command.

Blocks that install software (`python3 -m venv`, `pip install`) are the set-up this test session
already stands on and are not run again; blocks fenced as ```text (a Ray cluster's commands) are
instructions for other machines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "families").glob("*.md"))]
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
INSTALLS = ("python3 -m venv", "pip install")


def blocks(pages: list[Path] = PAGES) -> list[tuple[str, str]]:
    found = []
    for page in pages:
        for indent, language, body in FENCE.findall(page.read_text()):
            code = "\n".join(line[len(indent) :] for line in body.splitlines())
            if language in ("bash", "python") and not any(step in code for step in INSTALLS):
                found.append((language, code))
    return found


def test_the_readme_has_runnable_examples():
    kinds = [language for language, _ in blocks([README])]
    assert kinds.count("bash") >= 2 and kinds.count("python") >= 2
    assert len(blocks()) >= 9  # the pages under docs/ add theirs


def test_the_readme_is_short_and_every_docs_link_resolves():
    """A newcomer's README: at most 300 lines with a table of contents; every relative link in it and in
    docs/ names a file that exists."""
    import re as _re

    assert len(README.read_text().splitlines()) <= 300 and "## Contents" in README.read_text()
    for page in PAGES:
        for target in _re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


@pytest.mark.slow
def test_every_readme_example_runs_as_written(tmp_path):
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "LONGSYNTH_CACHE": str(tmp_path / "cache"),
    }
    for language, code in blocks():
        command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"docs block failed:\n{code}\n--- stderr:\n{done.stderr[-2000:]}"
    assert (tmp_path / "outputs" / "niah" / "manifest.json").exists()
