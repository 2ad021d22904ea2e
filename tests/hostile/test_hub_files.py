"""Files of a Hub repo, which is someone else's: a tokenizer.json (`--tokenizer hf:<id>`) and a chat
template (`chat_template=hf:<id>`) from a stand-in Hub on 127.0.0.1 (`HF_ENDPOINT`), in a fresh
process (huggingface_hub reads its endpoint when imported).

The Hub's record of a file's size is checked before the file is downloaded: a repo's 300 MB
tokenizer.json (or a 5 MB tokenizer_config.json) is refused in one line, and never fetched."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading

import pytest

pytestmark = pytest.mark.slow


class _Hub:
    """Serves `files[name] = (bytes, size it claims)` for any repo, and records what was asked."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, int]] = {}
        self.asked: list[tuple[str, str]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _head(self):
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                hub.asked.append((self.command, name))
                if "/resolve/" not in self.path or name not in hub.files:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                body, claimed = hub.files[name]
                self.send_response(200)
                self.send_header("X-Repo-Commit", "a" * 40)
                self.send_header("ETag", f'"{hashlib.sha1(body).hexdigest()}"')
                self.send_header("Content-Length", str(claimed))
                self.end_headers()
                return body

            def do_HEAD(self):
                self._head()

            def do_GET(self):
                body = self._head()
                if body is not None:
                    self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    served = _Hub()
    yield served
    served.close()


def _longsynth(tmp_path, hub, *args) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf"),
        "LONGSYNTH_CACHE": str(tmp_path / "cache"),
    }
    command = [sys.executable, "-m", "longsynth.cli", *args, "--lengths", "1k", "--samples", "1", "-o", "out"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _word_level_tokenizer() -> bytes:
    from tokenizers import Tokenizer, models, pre_tokenizers

    marks = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,"
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, **{c: n + 1 for n, c in enumerate(marks)}}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    return tokenizer.to_str().encode()


def test_a_hub_tokenizer_of_the_right_size_is_downloaded_and_used(tmp_path, hub):
    body = _word_level_tokenizer()
    hub.files["tokenizer.json"] = (body, len(body))
    done = _longsynth(tmp_path, hub, "build", "--tokenizer", "hf:someone/tok")
    assert done.returncode == 0, done.stderr
    assert ("GET", "tokenizer.json") in hub.asked
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["spec"]["tokenizer"] == "hf:someone/tok"


@pytest.mark.parametrize(
    ("name", "claimed", "args", "said"),
    [
        ("tokenizer.json", 300 << 20, ["--tokenizer", "hf:someone/huge"],
         "holds 314,572,800 bytes, more than the 268,435,456 it may have"),
        ("tokenizer_config.json", 5 << 20, ["--set", "chat_template=hf:someone/chat"],
         "tokenizer_config.json holds 5,242,880 bytes, more than the 1,048,576"),
    ],
)  # fmt: skip
def test_a_hub_file_too_large_is_refused_before_it_is_downloaded(tmp_path, hub, name, claimed, args, said):
    """A tokenizer.json, or a chat template's tokenizer_config.json, whose size on the Hub passes its
    reader's limit: one error line, and the file is never fetched."""
    body = _word_level_tokenizer() if name == "tokenizer.json" else json.dumps({"chat_template": "x"}).encode()
    hub.files[name] = (body, claimed)  # what the Hub says the file holds
    done = _longsynth(tmp_path, hub, "build", *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0]
    assert ("GET", name) not in hub.asked


def test_a_hub_chat_template_of_the_right_size_is_used(tmp_path, hub):
    config = json.dumps({"chat_template": "<user>{{ messages[0]['content'] }}</user>"}).encode()
    hub.files["tokenizer_config.json"] = (config, len(config))  # (and no chat_template.jinja: a 404)
    done = _longsynth(tmp_path, hub, "build", "--set", "chat_template=hf:someone/chat")
    assert done.returncode == 0, done.stderr
    import polars as pl

    prompt = pl.read_parquet(next((tmp_path / "out").glob("*/*.parquet")))["prompt"][0]
    assert prompt.startswith("<user>") and prompt.count("</user>") == 1, prompt[-200:]
