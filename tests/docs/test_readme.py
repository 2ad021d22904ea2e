"""The README's examples run as written: every ```bash and ```python block, in order, in one fresh
folder (later blocks use the files earlier ones make), with the installed `longsynth` command.

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

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
INSTALLS = ("python3 -m venv", "pip install")


def blocks() -> list[tuple[str, str]]:
    found = []
    for indent, language, body in FENCE.findall(README.read_text()):
        code = "\n".join(line[len(indent) :] for line in body.splitlines())
        if language in ("bash", "python") and not any(step in code for step in INSTALLS):
            found.append((language, code))
    return found


def test_the_readme_has_runnable_examples():
    kinds = [language for language, _ in blocks()]
    assert kinds.count("bash") >= 5 and kinds.count("python") >= 1


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
        assert done.returncode == 0, f"README block failed:\n{code}\n--- stderr:\n{done.stderr[-2000:]}"
    assert (tmp_path / "outputs" / "niah" / "manifest.json").exists()
