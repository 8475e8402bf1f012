"""Docker-backed tests: find the engine and the base image, or skip (fail in CI).

GITEXP_REQUIRE_DOCKER=1 turns "no engine" or "no base image" into a failure;
elsewhere those tests skip with the reason. `scripts/docker-up.sh` makes both.
"""

from __future__ import annotations

import functools
import os
import subprocess

from conftest import require_backend

BASE_IMAGE = os.environ.get("GITEXP_DOCKER_BASE_IMAGE") or "gitexp-base:py311"


@functools.lru_cache(maxsize=1)
def docker_problem() -> str | None:
    """Why Docker tests cannot run here, or None when they can."""
    try:
        import docker
    except ImportError:
        return "the Docker SDK is not installed (pip install 'gitexp[docker]')"
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        return f"no Docker engine reachable ({str(exc)[:120]}); run scripts/docker-up.sh"
    try:
        client.images.get(BASE_IMAGE)
    except Exception:
        return f"base image {BASE_IMAGE} missing; run scripts/docker-up.sh"
    return None


def require_docker() -> None:
    require_backend("GITEXP_REQUIRE_DOCKER", docker_problem())


def docker_cli(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def containers_of(run_name: str) -> list[str]:
    """Containers (running or not) gitexp started for an experiment."""
    return docker_cli("ps", "-a", "-q", "--filter", f"label=org.gitexp.run={run_name}").split()


def image_id(ref: str) -> str:
    return docker_cli("image", "inspect", "--format", "{{.Id}}", ref)
