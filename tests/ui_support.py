"""A small real study for the web UI tests, and the real `gitexp ui` server.

The study is made once per session with the real CLI (`gitexp run`, `gitexp
sweep`, `gitexp model`), then copied for each test that needs one:

- ``alpha``, ``beta`` (``-p lr=0.2 -p model.depth=6``), ``gamma``; ``broken``
  fails; ``evil`` has a param whose value is a script tag, and the ref
  ``y<script>alert(3)</script>`` (made with plain git, which allows it)
  points at alpha's commit: both must show as text, never run;
- ``sw``: a sweep of 4 trials (``loss:min``); ``duo``: 4 trials with two
  objectives, one of them off the Pareto front (x=0, dominated by x=0.302);
- model ``churn``: v0.0.1 from alpha, promoted to prod.

``serve`` starts `gitexp ui --port 0` in a repository (a subprocess, as a
user starts it), reads the URL it prints, and stops it with Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import GIT_ENV, git, make_repo

T = TypeVar("T")
TRAIN = """\
import sys
import gitexp
p = gitexp.params()
if p.get("fail"):
    sys.exit(1)
for step in range(4):
    gitexp.log_metric("loss", p["lr"] / (step + 1), step=step)
gitexp.log_metric("val/acc", p["model"]["depth"] / 10)
open("model.pkl", "w").write("weights")
print("trained", p["lr"])
"""
QUAD = """\
import gitexp
p = gitexp.params()
x = float(p["x"])
gitexp.log_metric("loss", (x - 0.3) ** 2)
gitexp.log_metric("cost", (x - 0.8) ** 2)
"""
# logs a point every 0.1 s until the file named by the `stop` param exists (the step
# limit, 10 minutes or more, only ends a run a failed test left behind)
SLOW = """\
import os, time, gitexp
p = gitexp.params()
step = 0
while not os.path.exists(p["stop"]) and step < 6000:
    gitexp.log_metric("loss", 1.0 / (step + 1), step=step)
    step += 1
    time.sleep(0.1)
gitexp.log_metric("steps", float(step))
"""
GITEXP = [sys.executable, "-m", "gitexp"]
PARAMS = "lr: 0.1\nx: 0.0\nstop: none\nmodel:\n  depth: 3\n"
INJECTED = "<script>alert(1)</script>"
INJECTED_REF = "y<script>alert(3)</script>"
RUNS = {
    "alpha": ["-p", "lr=0.1"],
    "beta": ["-p", "lr=0.2", "-p", "model.depth=6"],
    "gamma": ["-p", "lr=0.3", "-p", "model.depth=9"],
    "broken": ["-p", "+fail=true"],
    "evil": ["-p", f"+note={INJECTED}"],
}


def study_env(home: Path) -> dict[str, str]:
    return {**os.environ, **GIT_ENV, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def gitexp_cli(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitexp", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def build_study(root: Path, home: Path) -> Path:
    make_repo(root, {"params.yaml": PARAMS, "train.py": TRAIN, "quad.py": QUAD, "slow.py": SLOW})
    env = study_env(home)
    for name, args in RUNS.items():
        gitexp_cli(root, env, "run", "-q", "-n", name, *args, "--", "python", "train.py")
    for name, seed, objectives in (
        ("sw", "3", ["loss:min"]),
        ("duo", "1", ["loss:min", "cost:min"]),
    ):
        flags = [f for o in objectives for f in ("--objective", o)]
        sweep = ["sweep", "-n", name, "-p", "x=float(0,1)", "--trials", "4", "--seed", seed]
        done = gitexp_cli(root, env, *sweep, *flags, "--", "python", "quad.py")
        assert done.returncode == 0, done.stderr
    for args in (
        ["model", "register", "churn", "--from", "alpha", "--path", "model.pkl"],
        ["model", "promote", "churn", "v0.0.1", "--stage", "prod"],
    ):
        done = gitexp_cli(root, env, *args)
        assert done.returncode == 0, done.stderr
    alpha = git(root, "rev-parse", "refs/experiments/alpha").strip()
    git(root, "update-ref", f"refs/experiments/{INJECTED_REF}", alpha)
    return root


@pytest.fixture(scope="session")
def ui_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ui-study")
    return build_study(base / "repo", base / "home")


@pytest.fixture
def ui_study(ui_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the study; cwd is its root."""
    root = tmp_path / "study"
    shutil.copytree(ui_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


class Server:
    """A running `gitexp ui`: its base URL, token and process."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.base = url.split("?")[0].rstrip("/")
        found = re.search(r"token=([\w\-%]+)", url)
        self.token = found.group(1) if found else None

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@contextmanager
def serve(root: Path, *args: str) -> Iterator[Server]:
    """`gitexp ui --port 0 ARGS` in ``root`` until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "ui", "--port", "0", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = Server(proc, _url(proc))
    try:
        yield server
    finally:
        server.stop()


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"gitexp ui ended before serving: {err}")
        found = re.search(r"(http://\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("gitexp ui printed no URL")


def start_slow_run(root: Path, name: str, stop: Path) -> subprocess.Popen[str]:
    """`gitexp run` of a script that logs until ``stop`` exists (in the background)."""
    return subprocess.Popen(
        [*GITEXP, "run", "-q", "-n", name, "-p", f"stop={stop}", "--", "python", "slow.py"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(check: Callable[[], T], timeout: float = 120.0, every: float = 0.1) -> T:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` (a
    deadline for an event, generous for a loaded machine: it costs nothing when the
    event comes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"gave up waiting after {timeout}s")
