"""Worker processes die with the build that started them (a killed parent leaves nobody writing shards)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _state(pid: int) -> str | None:
    """A process's state letter (None when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_exit_within_seconds_of_a_killed_parent(tmp_path):
    out = tmp_path / "o"
    command = [sys.executable, "-m", "longsynth.cli", "build", "--task", "niah_single_2", "--lengths", "32k"]
    command += [
        "--depths",
        "0,50,100",
        "--samples",
        "40",
        "--workers",
        "2",
        "--set",
        "rows_per_shard=1",
        "-o",
        str(out),
    ]
    build = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(out.glob("*/*.parquet"))) < 2:
            time.sleep(0.1)
        workers = _children(build.pid)
        assert len(workers) >= 2, "the build never started its workers"
        os.kill(build.pid, signal.SIGKILL)
        killed = time.monotonic()
        build.wait(timeout=10)
        while time.monotonic() - killed < 30 and any(_state(w) not in (None, "Z") for w in workers):
            time.sleep(0.05)
        waited = time.monotonic() - killed
        print(f"workers exited {waited:.2f} s after the parent was killed")
        assert all(_state(w) in (None, "Z") for w in workers), f"workers still running {waited:.1f} s after the kill"
        assert waited < 5.0
        shards = len(list(out.glob("*/*.parquet")))
        time.sleep(2)
        assert len(list(out.glob("*/*.parquet"))) == shards, "shards were still written after the workers died"
    finally:
        for pid in [build.pid, *_children(build.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
