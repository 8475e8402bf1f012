"""The `ray:` and `distributed:` sections of gitexp.yaml, and the command line over them.

``ray:`` says where runs go when the executor is ``ray`` (``address``:
``HOST:PORT``, ``auto`` for the cluster this machine belongs to, absent
for a Ray instance started for the run) and what each run asks of it
(``cpus``, ``gpus``, ``memory``, custom ``resources``), what runs the job on
the worker node (``executor``: ``local`` or ``docker``), a Ray
``runtime_env`` for the workers, and how a process group is placed
(``placement``: PACK, SPREAD, STRICT_PACK, STRICT_SPREAD). ``distributed:``
holds ``num_workers``, the size of a torch.distributed process group.

Flags (``--executor``, ``--address``, ``--cpus``, ``--gpus``, ``--memory``,
``--num-workers``) override the file through ``with_options``: one Config
then carries everything the executors read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.errors import ConfigError, UsageError
from gitexp.common.sizes import parse_size
from gitexp.config.settings import CONFIG_FILE, Config, check_keys

RAY_KEYS = (
    "address",
    "cpus",
    "gpus",
    "memory",
    "resources",
    "executor",
    "runtime_env",
    "placement",
)
DISTRIBUTED_KEYS = ("num_workers",)
PLACEMENTS = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
WORKER_EXECUTORS = ("local", "docker")


@dataclass(frozen=True)
class RaySettings:
    """What a run on Ray asks for (per run, or per trial of a sweep)."""

    address: str | None = None
    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None  # bytes
    resources: dict[str, float] = field(default_factory=dict)
    executor: str = "local"  # what runs the job on the worker node
    runtime_env: dict[str, Any] | None = None
    placement: str = "PACK"

    def task_options(self) -> dict[str, Any]:
        """Ray's ``.options(...)`` for one task (or one rank) of a run."""
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus}
        if self.memory:
            options["memory"] = self.memory
        if self.resources:
            options["resources"] = dict(self.resources)
        return options

    def bundle(self) -> dict[str, float]:
        """One placement-group bundle: what one rank of a process group holds."""
        wanted = {"CPU": self.cpus, "GPU": self.gpus, **self.resources}
        if self.memory:
            wanted["memory"] = float(self.memory)
        return {k: v for k, v in wanted.items() if v}


def ray_settings(config: Config) -> RaySettings:
    """Validate ``ray:``; one line naming the key and value that are wrong."""
    raw = config.section("ray")
    check_keys(raw, RAY_KEYS, "ray")
    return RaySettings(
        address=_address(raw.get("address")),
        cpus=_amount(raw, "cpus", 1.0),
        gpus=_amount(raw, "gpus", 0.0),
        memory=_memory(raw.get("memory")),
        resources=_resources(raw.get("resources")),
        executor=_choice(raw, "executor", WORKER_EXECUTORS, "local"),
        runtime_env=_mapping(raw, "runtime_env"),
        placement=_choice(raw, "placement", PLACEMENTS, "PACK", upper=True),
    )


def num_workers(config: Config) -> int:
    """Processes in the run's torch.distributed group (1: a plain run)."""
    raw = config.section("distributed")
    check_keys(raw, DISTRIBUTED_KEYS, "distributed")
    value = raw.get("num_workers", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{CONFIG_FILE}: `distributed.num_workers` {value!r} is not a count >= 1")
    return value


@dataclass(frozen=True)
class Options:
    """Flags of `run`, `sweep` and `queue` that pick and size the executor (None: unset)."""

    executor: str | None = None
    address: str | None = None
    cpus: float | None = None
    gpus: float | None = None
    memory: str | None = None
    num_workers: int | None = None

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def with_options(config: Config, options: Options) -> Config:
    """``config`` with the flags over gitexp.yaml, checked (a usage error names the flag)."""
    executor = options.executor or config.executor
    ray_flags = {k: getattr(options, k) for k in ("address", "cpus", "gpus", "memory")}
    ray_given = {k: v for k, v in ray_flags.items() if v is not None}
    if ray_given and executor != "ray":
        flag = "--" + next(iter(ray_given))
        raise UsageError(f"{flag} is an option of the Ray executor", "add --executor ray")
    _check_flags(ray_given)
    sections = dict(config.sections)
    if ray_given:
        sections["ray"] = {**config.section("ray"), **ray_given}
    if options.num_workers is not None:
        sections["distributed"] = {
            **config.section("distributed"),
            "num_workers": options.num_workers,
        }
    changed = dataclasses.replace(config, executor=executor, sections=sections)
    _check(changed)
    return changed


def _check_flags(given: dict[str, Any]) -> None:
    """A flag's value in the flag's words (gitexp.yaml's are checked as the file's)."""
    if "memory" in given and parse_size(given["memory"]) is None:
        raise UsageError(f"--memory {given['memory']!r} is not a size like 4GB")
    for key in ("cpus", "gpus"):
        if given.get(key, 0) < 0:
            raise UsageError(f"--{key} {given[key]!r} is not a number >= 0")
    if "address" in given:
        try:
            _address(given["address"])
        except ConfigError as exc:
            raise UsageError(f"--address {given['address']!r} is not HOST:PORT", exc.hint) from exc


def _check(config: Config) -> None:
    """Refuse what cannot run before anything is written."""
    workers = num_workers(config)
    if config.executor == "ray":
        ray_settings(config)
    if workers > 1 and config.executor not in ("local", "ray"):
        raise UsageError(
            f"--num-workers {workers} needs the local or the Ray executor, not {config.executor!r}"
        )


def _address(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text == "auto":
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"{CONFIG_FILE}: `ray.address` {value!r} is not HOST:PORT",
            "e.g. 10.0.0.5:6379, or `auto` for the cluster this machine belongs to",
        )
    return text


def _amount(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{CONFIG_FILE}: `ray.{key}` {value!r} is not a number >= 0")
    return float(value)


def _memory(value: Any) -> int | None:
    if value is None:
        return None
    size = parse_size(value)
    if size is None:
        raise ConfigError(f"{CONFIG_FILE}: `ray.memory` {value!r} is not a size like 4GB")
    return size


def _resources(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values()
    ):
        raise ConfigError(
            f"{CONFIG_FILE}: `ray.resources` must map resource names to amounts, e.g. {{TPU: 1}}"
        )
    return {str(k): float(v) for k, v in value.items()}


def _choice(
    raw: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, upper: bool = False
) -> str:
    value = str(raw.get(key, default))
    value = value.upper() if upper else value
    if value not in allowed:
        raise ConfigError(
            f"{CONFIG_FILE}: `ray.{key}` {raw.get(key)!r} is not one of: {', '.join(allowed)}"
        )
    return value


def _mapping(raw: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"{CONFIG_FILE}: `ray.{key}` must be a mapping")
    return value
