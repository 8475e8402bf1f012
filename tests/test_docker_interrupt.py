"""Ctrl-C during a Docker image build stops the build: the daemon builds no further,
its build container goes away, and the run is recorded `interrupted` (exit 130).
Ctrl-C while gitexp probes a new image's packages removes the probe's container."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import git, write_files
from docker_support import BASE_IMAGE, docker_cli, require_docker
from run_support import repo_state, run_json

pytestmark = pytest.mark.docker


def _slow_template(token: str) -> str:
    """A step that sleeps; the token keeps the layer out of Docker's build cache."""
    return f"FROM {{{{ base_image }}}}\nRUN echo {token} && sleep 300\n"


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
        assert _wait_for(lambda: _build_containers(token), 180), "the slow step never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)  # not the step's 300 s
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    assert run_json(root, "slow")["status"] == "interrupted"
    assert _wait_for(lambda: not _build_containers(token), 60), _build_containers(token)


class _CtrlCOnLine(logging.Handler):
    """Raises KeyboardInterrupt as the build log shows ``line``: a Ctrl-C that lands
    while gitexp handles a chunk of the log, not inside a socket read (where urllib3
    would drop the connection by itself)."""

    def __init__(self, line: str) -> None:
        super().__init__(logging.DEBUG)
        self.line = line

    def emit(self, record: logging.LogRecord) -> None:
        # one chunk of the log may carry several lines (the engine merges them under load)
        if self.line in (line.strip() for line in record.getMessage().splitlines()):
            raise KeyboardInterrupt


def test_the_executor_closes_the_build_connection_on_ctrl_c(
    slow_repo: tuple[Path, str],
) -> None:
    """In a process that lives on and keeps the traceback (a notebook keeps the last
    one), the daemon must stop too: the build's connection is closed, not left to GC."""
    from gitexp.config.settings import load_config
    from gitexp.running.executors import Job
    from gitexp.running.executors.docker import DockerExecutor

    root, token = slow_repo
    executor = DockerExecutor(load_config(root))
    logger = logging.getLogger("gitexp.running.executors.docker")
    level = logger.level
    # setLevel, not the attribute: it clears the cache of isEnabledFor(DEBUG) answers
    # that a test before this one, in this process, may have filled
    logger.setLevel(logging.DEBUG)
    handler = _CtrlCOnLine(token)  # the RUN step echoes it: its container is running
    logger.addHandler(handler)
    try:
        with pytest.raises(KeyboardInterrupt) as kept:
            executor.prepare(Job("slow", ["true"], root, "", {}))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert _wait_for(lambda: not _build_containers(token), 60), _build_containers(token)
    assert kept.traceback  # held until here, with the frames of the build


def _slow_python_template(token: str) -> str:
    """An image whose `python` sleeps, so gitexp's package probe (`python -c ...`)
    runs until it is stopped; the label marks every container made from it."""
    return (
        "FROM {{ base_image }}\n"
        "RUN mkdir /slow && printf '#!/bin/sh\\nexec sleep 600\\n' > /slow/python"
        " && chmod +x /slow/python\n"
        "ENV PATH=/slow:$PATH\n"
        f"LABEL gitexp.test.token={token}\n"  # last: the build's own containers lack it
    )


def _containers_from(token: str) -> list[str]:
    """Containers (running or not) of the image labelled with ``token``: ID and command."""
    out = docker_cli(
        "ps", "-a", "--no-trunc", "--filter", f"label=gitexp.test.token={token}",
        "--format", "{{.ID}} {{.Command}}",
    )  # fmt: skip
    return out.splitlines()


def _probes(token: str) -> list[str]:
    """Those running gitexp's probe (the build's steps make containers too)."""
    return [c for c in _containers_from(token) if "python -c" in c and "importlib" in c]


def test_ctrl_c_during_the_image_probe_leaves_no_container(
    git_repo: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    token = f"gitexp-slow-probe-{secrets.token_hex(6)}"
    files = {"Dockerfile.probe": _slow_python_template(token)}
    write_files(git_repo, {**files, "gitexp.yaml": "docker:\n  template: Dockerfile.probe\n"})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "an image whose python hangs")
    before = repo_state(git_repo)
    argv = [sys.executable, "-m", "gitexp", "run", "--docker", "-n", "probed", "--", "true"]
    proc = subprocess.Popen(argv, cwd=git_repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _probes(token), 240), "the probe never started"
        assert len(_probes(token)) == 1
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)  # not the probe's 600 s
    finally:
        proc.kill()
        images = docker_cli("images", "-q", "--filter", f"label=gitexp.test.token={token}")
        docker_cli("rmi", "-f", *set(images.split()))  # one image per test run: not kept
    assert proc.returncode == 130, err.decode()
    run = run_json(git_repo, "probed")
    assert (run["status"], run["error"]) == ("interrupted", "interrupted by Ctrl-C")
    assert _containers_from(token) == []  # gone before gitexp exited
    assert repo_state(git_repo) == before
    assert not (isolated_env / ".cache" / "gitexp" / "images").exists()  # nothing cached


def test_the_probe_reads_the_image_and_leaves_no_container(isolated_env: Path) -> None:
    """Its container goes when the probe succeeds and when it fails (an image whose
    python cannot run it is legal: the run just knows less)."""
    import docker

    from gitexp.running.executors.imageprobe import probe_image

    require_docker()
    client = docker.from_env()
    token = f"gitexp-probe-{secrets.token_hex(6)}"
    good = _labelled_image(client, token, "")
    broken = _labelled_image(client, token, "ENV PATH=/nowhere\n")
    try:
        found = probe_image(client, good)
        assert found["python"].startswith("3.") and found["platform"].startswith("Linux")
        assert any(p.startswith("pip==") for p in found["packages"])
        cached = isolated_env / ".cache" / "gitexp" / "images" / f"{good.split(':')[-1]}.json"
        assert json.loads(cached.read_text()) == found  # the next run of the image asks no one
        assert probe_image(client, broken) == {}
        assert _containers_from(token) == []
    finally:
        for image in (broken, good):  # removing broken may prune good, its parent
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(image, force=True)


def _labelled_image(client: Any, token: str, lines: str) -> str:
    """A new image id from the base image (the label makes it ours alone)."""
    dockerfile = f"FROM {BASE_IMAGE}\nLABEL gitexp.test.token={token}\n{lines}"
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), rm=True)
    return str(image.id)
