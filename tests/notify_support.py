"""Helpers for the notification tests: a real HTTP receiver on 127.0.0.1, a plugin
package installed with pip, and a search for a secret through everything git keeps."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import write_files


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """What a local HTTP server was sent; ``delay`` holds every answer back."""

    port: int = 0
    delay: float = 0.0
    posts: list[Post] = field(default_factory=list)

    def url(self, scheme: str = "http", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 120.0) -> list[Post]:
        end = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < end:
            time.sleep(0.05)
        return list(self.posts)

    def events(self) -> list[str]:
        return [p.body.get("event", "") for p in self.posts]


@contextmanager
def receiver(delay: float = 0.0) -> Iterator[Receiver]:
    """A ThreadingHTTPServer on a free port of 127.0.0.1, for the test's duration."""
    got = Receiver(delay=delay)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(size)
            time.sleep(got.delay)
            got.posts.append(Post(self.path, dict(self.headers), json.loads(data or b"{}")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    got.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()


PLUGIN = """\
import json, os

def record(event, payload):
    with open(os.environ["PLUGIN_LOG"], "a") as f:
        f.write(json.dumps([event, payload]) + "\\n")

def finished_only(event, payload):
    with open(os.environ["PLUGIN_LOG"], "a") as f:
        f.write(json.dumps(["narrow:" + event, payload]) + "\\n")

finished_only.events = ["run_finished"]

def broken(event, payload):
    raise RuntimeError("plugin bug")
"""
PLUGIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "teamhooks"
version = "0.1"

[project.entry-points."gitexp.callbacks"]
record = "teamhooks:record"
narrow = "teamhooks:finished_only"
broken = "teamhooks:broken"
missing = "teamhooks:no_such_function"
"""


def install_plugin(tmp: Path) -> Path:
    """pip-install a small package declaring `gitexp.callbacks` entry points into a
    folder of its own (offline: setuptools from this environment); the folder to
    put on PYTHONPATH."""
    source, site = tmp / "teamhooks-src", tmp / "site"
    write_files(source, {"pyproject.toml": PLUGIN_PYPROJECT, "src/teamhooks/__init__.py": PLUGIN})
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(site),
         str(source)],
        check=True, capture_output=True, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"},
    )  # fmt: skip
    return site


def everything_git_keeps(root: Path) -> bytes:
    """Every object of the repository (all commits, trees, blobs: run.json, output.log,
    gitexp.yaml of every experiment), and every other file under .git, as bytes."""
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=root, capture_output=True, check=True,
    ).stdout  # fmt: skip
    files = b"".join(p.read_bytes() for p in (root / ".git").rglob("*") if p.is_file())
    return objects + files
