"""What differs between the environments two experiments ran in, from their records.

Every experiment records its environment: the package list
(``.gitexp/env/requirements.txt``: the host's, or the image's for a Docker
run), ``system.json`` (Python, platform, machine, CPUs, threads), and in
run.json its seed, the variables that change numerics (``numerics_env``) and,
for a container, the image and its base. A reproduction records the same, so
"why did the metrics change" starts with what changed here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gitexp.common.layout import REQUIREMENTS_TXT, RUN_JSON, SYSTEM_JSON
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob, read_json

SYSTEM_KEYS = ("python", "implementation", "platform", "machine", "cpu_count", "threads", "gpus")
DOCKER_KEYS = ("image_id", "base_image", "base_image_id", "base_image_digest")
Change = list[Any]  # [before, after]


@dataclass(frozen=True)
class Environment:
    """One experiment's recorded environment, parsed."""

    packages: dict[str, str]
    system: dict[str, Any]
    docker: dict[str, Any]
    seed: Any
    env: dict[str, str] | None  # None: recorded before gitexp recorded it
    executor: str | None


@dataclass(frozen=True)
class EnvDiff:
    """Packages added, removed or changed; and every other recorded difference."""

    packages_added: list[list[str]] = field(default_factory=list)
    packages_removed: list[list[str]] = field(default_factory=list)
    packages_changed: list[list[str]] = field(default_factory=list)  # name, before, after
    system: dict[str, Change] = field(default_factory=dict)
    docker: dict[str, Change] = field(default_factory=dict)
    seed: Change | None = None
    env: dict[str, Change] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(v for v in asdict(self).values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The difference for people, one line per change."""
        out = [f"package {n} {a} -> {b}" for n, a, b in self.packages_changed]
        out += [f"package {n}=={v} added" for n, v in self.packages_added]
        out += [f"package {n}=={v} removed" for n, v in self.packages_removed]
        for group, changes in (("", self.system), ("docker ", self.docker), ("env ", self.env)):
            out += [f"{group}{k}: {_shown(a)} -> {_shown(b)}" for k, (a, b) in changes.items()]
        if self.seed is not None:
            out.append(f"seed: {self.seed[0]} -> {self.seed[1]}")
        return out


def environment(repo: Repo, commit: str) -> Environment:
    tree = repo.git.revparse_single(f"{commit}^{{tree}}").id
    run = read_json(repo, tree, RUN_JSON, lost_ok=True)
    system = read_json(repo, tree, SYSTEM_JSON, lost_ok=True)
    docker: dict[str, Any] = run["docker"] if isinstance(run.get("docker"), dict) else {}
    env = run.get("numerics_env") if isinstance(run.get("numerics_env"), dict) else None
    return Environment(
        _packages(read_blob(repo, tree, REQUIREMENTS_TXT) or b""),
        {k: system.get(k) for k in SYSTEM_KEYS if k in system},
        {k: docker.get(k) for k in DOCKER_KEYS if docker.get(k) is not None},
        run.get("seed"),
        {str(k): str(v) for k, v in env.items()} if env is not None else None,
        run.get("executor"),
    )


def _packages(text: bytes) -> dict[str, str]:
    """``name==version`` lines (a pip freeze); names compared case-insensitively."""
    found = {}
    for line in text.decode("utf-8", "replace").splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name:
            found[name.lower()] = version
    return found


def diff(before: Environment, after: Environment) -> EnvDiff:
    old, new = before.packages, after.packages
    return EnvDiff(
        packages_added=[[n, new[n]] for n in sorted(set(new) - set(old))],
        packages_removed=[[n, old[n]] for n in sorted(set(old) - set(new))],
        packages_changed=[
            [n, old[n], new[n]] for n in sorted(set(old) & set(new)) if old[n] != new[n]
        ],
        system=_changes(before.system, after.system, known_only=True),
        docker=_changes(before.docker, after.docker),
        seed=None if before.seed == after.seed else [before.seed, after.seed],
        env=_without_seed(_changes(before.env, after.env), before.seed, after.seed)
        if None not in (before.env, after.env)
        else {},
    )


def _without_seed(env: dict[str, Change], *seeds: Any) -> dict[str, Change]:
    """PYTHONHASHSEED is the run's seed (gitexp sets it): the seed row says it once."""
    hashed = env.get("PYTHONHASHSEED")
    if hashed is not None and [str(s) for s in seeds] == [str(v) for v in hashed]:
        return {k: v for k, v in env.items() if k != "PYTHONHASHSEED"}
    return env


def between(repo: Repo, a: str, b: str) -> EnvDiff:
    """The environment difference from experiment commit ``a`` to ``b``."""
    return diff(environment(repo, a), environment(repo, b))


def _changes(
    a: dict[str, Any] | None, b: dict[str, Any] | None, known_only: bool = False
) -> dict[str, Change]:
    """Keys whose values differ; ``known_only``: only keys both records have (an older
    record lacks fields a newer gitexp adds: unknown is not different)."""
    a, b = a or {}, b or {}
    keys = sorted(set(a) & set(b)) if known_only else sorted(set(a) | set(b))
    return {k: [a.get(k), b.get(k)] for k in keys if a.get(k) != b.get(k)}


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value)
