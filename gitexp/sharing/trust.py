"""How far a recorded experiment may widen the sandbox it is reproduced in.

An experiment's gitexp.yaml travels with it from whoever ran it, so it states
the author's wishes, not the user's consent. The settings that widen the
sandbox (``link:`` paths outside the repository or into ``.git``, host
variables passed into the container, the container's network, GPUs) are
granted only as far as the local, trusted gitexp.yaml (the work tree's)
allows them, unless the user passes ``--trust``. Machine-local settings
(``run_root``, ``docker.build_network``, and the whole ``ray:`` section: which
cluster the snapshot is sent to, what its workers install) always come from
the local file.
Everything else the experiment recorded (command, params, metrics files,
outputs, Dockerfile) is used as recorded.

Each widening setting is one rule in ``RULES``: a function listing what the
experiment asks for beyond the local allowance, in words for the error. A new
sandbox setting (extra mounts, devices) is one more rule here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from gitexp.common.errors import UsageError
from gitexp.config.docker import DockerSettings, docker_settings
from gitexp.config.settings import Config
from gitexp.gitstore.repo import Repo

MACHINE_LOCAL_DOCKER = ("build_network",)
Gpus = str | int | list[str] | None


class UntrustedSettingsError(UsageError):
    """The experiment asks for a wider sandbox than the local gitexp.yaml allows."""

    def __init__(self, name: str, asks: list[str]) -> None:
        super().__init__(
            f"experiment {name!r} asks for more than your gitexp.yaml allows: {', '.join(asks)}",
            "review it, then pass --trust",
        )
        self.asks = asks


def require_consent(
    repo: Repo, name: str, recorded: Config, local: Config, trust: bool
) -> list[str]:
    """What ``recorded`` asks beyond ``local``; raises unless there is nothing or ``trust``."""
    asks = beyond(repo, recorded, local)
    if asks and not trust:
        raise UntrustedSettingsError(name, asks)
    return asks  # granted: the caller reports them (and a saved rerun records them)


def beyond(repo: Repo, asked: Config, allowed: Config) -> list[str]:
    """Every widening ``asked`` wants that ``allowed`` does not grant, rule by rule."""
    return [ask for rule in RULES for ask in rule(repo, asked, allowed)]


def merged(recorded: Config, local: Config) -> Config:
    """The recorded config with its machine-local settings replaced by the local ones."""
    docker = {k: v for k, v in recorded.section("docker").items() if k not in MACHINE_LOCAL_DOCKER}
    docker.update({k: v for k, v in local.section("docker").items() if k in MACHINE_LOCAL_DOCKER})
    # ray: the recorded address could send the snapshot to the author's (or anyone's) cluster
    sections = {**recorded.sections, "docker": docker, "ray": local.section("ray")}
    return dataclasses.replace(recorded, run_root=local.run_root, sections=sections)


def _docker(config: Config) -> DockerSettings:
    return docker_settings(config, environ={})  # the base image is not a sandbox setting


def _network(repo: Repo, asked: Config, allowed: Config) -> list[str]:
    want, have = _docker(asked).network, _docker(allowed).network
    return [] if want in ("none", have) else [f"network {want!r}"]


def _environment(repo: Repo, asked: Config, allowed: Config) -> list[str]:
    granted = set(_docker(allowed).passthrough)
    extra = [n for n in _docker(asked).passthrough if n not in granted]
    return [f"environment {','.join(extra)}"] if extra else []


def _gpus(repo: Repo, asked: Config, allowed: Config) -> list[str]:
    want, have = _docker(asked).gpus, _docker(allowed).gpus
    if _gpus_within(want, have):
        return []
    shown = ",".join(want) if isinstance(want, list) else str(want)
    return [f"gpus {shown}"]


def _gpus_within(want: Gpus, have: Gpus) -> bool:
    if want is None or have == "all" or want == have:
        return True
    if isinstance(want, int) and isinstance(have, int):
        return want <= have
    if isinstance(want, list) and isinstance(have, list):
        return set(want) <= set(have)
    return False


def _links(repo: Repo, asked: Config, allowed: Config) -> list[str]:
    """Links into the work tree are the repository's own data; others need consent."""
    granted = [_resolve(repo, rel) for rel in allowed.links]
    asks = []
    for rel in asked.links:
        path = _resolve(repo, rel)
        where = _where(repo, path)
        if where and not any(_under(path, g) for g in granted):
            asks.append(f"link {rel!r} ({where})")
    return asks


def _resolve(repo: Repo, rel: str) -> Path:
    return (repo.root / rel).resolve()  # as the runner resolves it: symlinks followed


def _where(repo: Repo, path: Path) -> str | None:
    """Why a link target needs consent, or None for a path inside the work tree."""
    if _under(path, repo.git_dir.resolve()):
        return "inside .git"
    if not _under(path, repo.root.resolve()):
        return "outside the repository"
    return None


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


Rule = Callable[[Repo, Config, Config], list[str]]
RULES: tuple[Rule, ...] = (_network, _environment, _links, _gpus)
