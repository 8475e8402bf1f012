"""The Docker executor's image probe has a bounded wait: an image whose entrypoint hangs
fails the run with one line naming the image, and leaves no probe container behind."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git, run_gitexp, write_files
from docker_support import BASE_IMAGE, docker_cli, require_docker
from run_support import exp_refs, run_json

from gitexp.common.errors import ConfigError
from gitexp.config.docker import PROBE_TIMEOUT_ENV, PROBE_TIMEOUT_S, probe_timeout
from gitexp.running.executors.imageprobe import PROBE_LABEL, ProbeTimeoutError, probe_image

#: an entrypoint that swallows the probe's `python -c ...` and sleeps
HANGING = 'ENTRYPOINT ["/bin/sh", "-c", "sleep 300", "--"]\n'


def _probe_containers(token: str) -> list[str]:
    """gitexp's probe containers (running or not) of the image labelled ``token``."""
    out = docker_cli(
        "ps", "-a", "-q", "--filter", f"label={PROBE_LABEL}",
        "--filter", f"label=gitexp.test.token={token}",
    )  # fmt: skip
    return out.split()


@pytest.fixture
def token() -> Iterator[str]:
    """A label for this test's images, removed with them afterwards."""
    require_docker()
    made = f"gitexp-hung-probe-{secrets.token_hex(6)}"
    yield made
    images = docker_cli("images", "-q", "--filter", f"label=gitexp.test.token={made}").split()
    if images:
        docker_cli("rmi", "-f", *set(images))


@pytest.mark.docker
def test_a_hanging_probe_times_out_and_leaves_no_container(
    isolated_env: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker

    client = docker.from_env()
    dockerfile = f"FROM {BASE_IMAGE}\n{HANGING}LABEL gitexp.test.token={token}\n"
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), rm=True)
    monkeypatch.setenv(PROBE_TIMEOUT_ENV, "2")
    started = time.monotonic()
    with pytest.raises(ProbeTimeoutError) as raised:
        probe_image(client, str(image.id))
    assert time.monotonic() - started < 60  # 2 s, then the removal; never the 300 s sleep
    short = str(image.id).split(":")[-1][:12]
    assert str(raised.value).startswith(f"image {short} did not answer gitexp's package probe")
    assert "within 2s" in str(raised.value) and PROBE_TIMEOUT_ENV in str(raised.value)
    assert _probe_containers(token) == []
    assert not (isolated_env / ".cache" / "gitexp" / "images").exists()  # nothing cached


@pytest.mark.docker
def test_a_run_whose_image_probe_hangs_fails_with_one_line(
    git_repo: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    template = "FROM {{ base_image }}\n" + HANGING + f"LABEL gitexp.test.token={token}\n"
    files = {"Dockerfile.hung": template, "gitexp.yaml": "docker:\n  template: Dockerfile.hung\n"}
    write_files(git_repo, files)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "an image whose entrypoint hangs")
    bad = run_gitexp("run", "--docker", "-n", "bad", "--", "true", env={PROBE_TIMEOUT_ENV: "soon"})
    assert (bad.returncode, bad.stderr.strip().splitlines()[-1]) == (
        2,
        f"gitexp: error: {PROBE_TIMEOUT_ENV} must be a number of seconds above 0, got 'soon'",
    )  # refused before the name is taken
    assert exp_refs(git_repo) == {}
    env_timeout = {PROBE_TIMEOUT_ENV: "3"}
    proc = run_gitexp("run", "--docker", "-n", "hung", "--", "true", env=env_timeout, timeout=300)
    assert proc.returncode == 1, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("gitexp: error:")]
    assert len(errors) == 1, proc.stderr
    assert "did not answer gitexp's package probe" in errors[0] and "within 3s" in errors[0]
    image = docker_cli("images", "-q", "--filter", f"label=gitexp.test.token={token}")
    assert image and f"image {image.split()[0][:12]}" in errors[0]  # names the image
    run = run_json(git_repo, "hung")  # recorded like a failed build: not left `running`
    assert run["status"] == "failed" and "package probe" in run["error"]
    assert list(exp_refs(git_repo)) == ["hung"]
    assert _probe_containers(token) == []
    assert docker_cli("ps", "-a", "-q", "--filter", f"label=gitexp.test.token={token}") == ""


def test_the_probe_timeout_comes_from_the_environment() -> None:
    assert probe_timeout({}) == PROBE_TIMEOUT_S == 120
    assert probe_timeout({PROBE_TIMEOUT_ENV: " 7.5 "}) == 7.5
    for bad in ("soon", "0", "-3", "nan", "inf"):
        with pytest.raises(ConfigError, match=f"{PROBE_TIMEOUT_ENV} must be a number"):
            probe_timeout({PROBE_TIMEOUT_ENV: bad})
