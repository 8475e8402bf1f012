"""Ctrl-C during a Docker image build stops the build: the daemon builds no further,
its build container goes away, and the run is recorded `interrupted` (exit 130)."""

from __future__ import annotations

import logging
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, write_files
from docker_support import BASE_IMAGE, docker_cli, require_docker
from run_support import run_json

pytestmark = pytest.mark.docker


def _slow_template(token: str) -> str:
    """A step that sleeps; the token keeps the layer out of Docker's build cache."""
    return f"FROM {{{{ base_image }}}}\nRUN echo {token} && sleep 30\n"


def _build_containers(token: str) -> list[str]:
    """Containers (running or stopped) of the slow RUN step."""
    out = docker_cli("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}")
    return [line.split()[0] for line in out.splitlines() if token in line]


def _wait_for(condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def slow_repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    token = f"gitexp-slow-build-{secrets.token_hex(6)}"
    write_files(
        git_repo,
        {
            "Dockerfile.slow": _slow_template(token),
            "gitexp.yaml": "docker:\n  template: Dockerfile.slow\n",
        },
    )
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "slow image")
    return git_repo, token


def test_ctrl_c_during_the_build_stops_it_and_records_interrupted(
    slow_repo: tuple[Path, str],
) -> None:
    root, token = slow_repo
    argv = [sys.executable, "-m", "gitexp", "run", "--docker", "-n", "slow", "--", "true"]
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _build_containers(token), 60), "the slow step never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    assert run_json(root, "slow")["status"] == "interrupted"
    assert _wait_for(lambda: not _build_containers(token), 5), _build_containers(token)


class _CtrlCOnLine(logging.Handler):
    """Raises KeyboardInterrupt as the build log shows ``line``: a Ctrl-C that lands
    while gitexp handles a chunk of the log, not inside a socket read (where urllib3
    would drop the connection by itself)."""

    def __init__(self, line: str) -> None:
        super().__init__(logging.DEBUG)
        self.line = line

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().strip() == self.line:
            raise KeyboardInterrupt


def test_the_executor_closes_the_build_connection_on_ctrl_c(
    slow_repo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process that lives on and keeps the traceback (a notebook keeps the last
    one), the daemon must stop too: the build's connection is closed, not left to GC."""
    from gitexp.config.settings import load_config
    from gitexp.running.executors import Job
    from gitexp.running.executors.docker import DockerExecutor

    root, token = slow_repo
    executor = DockerExecutor(load_config(root))
    logger = logging.getLogger("gitexp.running.executors.docker")
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    handler = _CtrlCOnLine(token)  # the RUN step echoes it: its container is running
    logger.addHandler(handler)
    try:
        with pytest.raises(KeyboardInterrupt) as kept:
            executor.prepare(Job("slow", ["true"], root, "", {}))
    finally:
        logger.removeHandler(handler)
    assert _wait_for(lambda: not _build_containers(token), 5), _build_containers(token)
    assert kept.traceback  # held until here, with the frames of the build
