"""The `docker:` section of gitexp.yaml: what the image is built from, how containers run.

Read only by the Docker executor, the image spec (executors/images.py) and the
trust check of a reproduction (sharing/trust.py): a run without Docker never
validates it. A key is accepted only when something reads it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.errors import ConfigError
from gitexp.config.settings import CONFIG_FILE, Config, check_keys

DOCKER_KEYS = {
    "base_image",
    "template",
    "requirements",
    "build_args",
    "build_network",
    "network",
    "gpus",
    "shm_size",
    "memory",
    "environment",
    "init",
}
BASE_IMAGE_ENV = "GITEXP_DOCKER_BASE_IMAGE"
PROBE_TIMEOUT_ENV = "GITEXP_DOCKER_PROBE_TIMEOUT"
#: the image probe's wait (executors/imageprobe.py); a big image's first start is slow
PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DockerSettings:
    """The `docker:` section: what the image is built from and how containers run."""

    base_image: str
    template: str | None = None
    requirements: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    build_network: str | None = "host"
    network: str = "none"
    gpus: str | int | list[str] | None = None
    shm_size: str | None = None
    memory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    passthrough: tuple[str, ...] = ()
    init: bool = True
    probe_timeout_s: float = PROBE_TIMEOUT_S


def docker_settings(config: Config, environ: dict[str, str] | None = None) -> DockerSettings:
    """Validate ``docker:``; GITEXP_DOCKER_BASE_IMAGE overrides ``base_image``, and
    GITEXP_DOCKER_PROBE_TIMEOUT sets the probe's wait (checked here, before a run
    takes its name)."""
    raw = config.section("docker")
    check_keys(raw, DOCKER_KEYS, "docker")
    env = os.environ if environ is None else environ
    default_base = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    environment, passthrough = _docker_environment(raw.get("environment"))
    return DockerSettings(
        base_image=env.get(BASE_IMAGE_ENV) or _opt_str(raw, "base_image") or default_base,
        template=_opt_str(raw, "template"),
        requirements=_opt_str(raw, "requirements"),
        build_args=_str_map(raw.get("build_args"), "docker.build_args"),
        build_network=_opt_str(raw, "build_network") or "host",
        network=_opt_str(raw, "network") or "none",
        gpus=_gpus(raw.get("gpus")),
        shm_size=_opt_str(raw, "shm_size"),
        memory=_opt_str(raw, "memory"),
        environment=environment,
        passthrough=passthrough,
        init=bool(raw.get("init", True)),
        probe_timeout_s=probe_timeout(env),
    )


def probe_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds the image probe may take: GITEXP_DOCKER_PROBE_TIMEOUT, else the default."""
    raw = (os.environ if environ is None else environ).get(PROBE_TIMEOUT_ENV, "").strip()
    if not raw:
        return PROBE_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"{PROBE_TIMEOUT_ENV} must be a number of seconds above 0, got {raw!r}")
    return seconds


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    raise ConfigError(f"{CONFIG_FILE}: `docker.{key}` must be a non-empty string, got {value!r}")


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: "" if v is None else str(v) for k, v in value.items()}
    raise ConfigError(f"{CONFIG_FILE}: `{where}` must be a mapping of NAME: value")


def _docker_environment(value: Any) -> tuple[dict[str, str], tuple[str, ...]]:
    """A mapping sets fixed values; a list names host variables passed through."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {}, tuple(value)
    return _str_map(value, "docker.environment"), ()


def _gpus(value: Any) -> str | int | list[str] | None:
    if value is None or value is False:
        return None
    if value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value  # type: ignore[no-any-return]
    if isinstance(value, list) and value and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    raise ConfigError(
        f"{CONFIG_FILE}: `docker.gpus` must be `all`, a count or a list of device ids, "
        f"got {value!r}"
    )
