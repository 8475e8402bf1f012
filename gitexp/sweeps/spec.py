"""What a sweep is: params to search, objectives, sampler, pruner, budget, command.

A sweep comes from the command line, a sweep file or a gitexp.yaml entry
(read by ``sweepfile.py``), with command-line options over the file's
(``apply_options``). Every user mistake is refused here (``check``), in one
line, before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from gitexp.common.errors import UsageError
from gitexp.common.layout import MAX_SEED
from gitexp.sweeps import space as spaces
from gitexp.sweeps.space import Space

SAMPLERS = ("grid", "random", "tpe", "cmaes", "qmc", "nsga2")
PRUNERS = ("none", "median", "hyperband", "sha")
DIRECTIONS = {"min": "minimize", "minimize": "minimize", "max": "maximize", "maximize": "maximize"}


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # minimize or maximize

    @property
    def text(self) -> str:
        return f"{self.metric}:{self.direction[:3]}"


@dataclass(frozen=True)
class Choice:
    """A sampler or pruner: its name and the keyword arguments Optuna's class gets."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepSpec:
    name: str
    params: dict[str, Space]
    objectives: tuple[Objective, ...]
    sampler: Choice = Choice("tpe")
    pruner: Choice = Choice("none")
    trials: int | None = None
    timeout: float | None = None
    jobs: int = 1
    seed: int | None = None
    command: list[str] | str | None = None
    storage: str | None = None  # an RDB URL; default: a journal file under .git/gitexp/
    origin: str | None = None  # --from NAME: every trial starts from that experiment's params

    @property
    def searched(self) -> dict[str, Space]:
        return {k: s for k, s in self.params.items() if s.searched}

    @property
    def fixed(self) -> dict[str, Space]:
        return {k: s for k, s in self.params.items() if not s.searched}


@dataclass(frozen=True)
class Options:
    """What the command line said (None: not given)."""

    source: str | None = None
    name: str | None = None
    params: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    sampler: str | None = None
    pruner: str | None = None
    trials: int | None = None
    timeout: float | None = None
    jobs: int | None = None
    seed: int | None = None
    command: tuple[str, ...] = ()
    origin: str | None = None  # --from NAME


def apply_options(spec: SweepSpec, o: Options) -> SweepSpec:
    params = dict(spec.params)
    for text in o.params:
        key, value = _split_param(text)
        params[key] = spaces.parse(key, value)
    return replace(
        spec,
        name=o.name or spec.name,
        params=params,
        objectives=tuple(parse_objective(t) for t in o.objectives) or spec.objectives,
        sampler=Choice(o.sampler) if o.sampler else spec.sampler,
        pruner=Choice(o.pruner) if o.pruner else spec.pruner,
        trials=o.trials if o.trials is not None else spec.trials,
        timeout=o.timeout if o.timeout is not None else spec.timeout,
        jobs=o.jobs if o.jobs is not None else spec.jobs,
        seed=o.seed if o.seed is not None else spec.seed,
        command=list(o.command) if o.command else spec.command,
        origin=o.origin or spec.origin,
    )


def _split_param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"bad -p {text!r}", "write KEY=SPACE, e.g. -p lr=float(1e-4,1e-1,log)")
    return key.strip(), value.strip()


def parse_objective(text: str) -> Objective:
    """``METRIC`` (minimized) or ``METRIC:min|max``."""
    metric, sep, direction = text.rpartition(":")
    if not sep or direction.lower() not in DIRECTIONS:
        metric, direction = text, "min"
    if not metric.strip():
        raise UsageError(f"bad objective {text!r}", "write METRIC[:min|max], e.g. val.acc:max")
    return Objective(metric.strip(), DIRECTIONS[direction.lower()])


def check(spec: SweepSpec) -> SweepSpec:
    """Refuse a sweep that cannot run as written, each problem in one line."""
    from gitexp.gitstore.names import validate

    validate(spec.name)
    if "/" in spec.name:
        raise UsageError(f"sweep name {spec.name!r} has a '/'", "trials go under NAME/; use -")
    if not spec.searched:
        raise UsageError("nothing to search", "give a space, e.g. -p lr=float(1e-4,1e-1,log)")
    if not spec.objectives:
        raise UsageError("no objective", "give --objective METRIC[:min|max], e.g. val.acc:max")
    _check_names(spec)
    _check_budget(spec)
    return spec


def _check_names(spec: SweepSpec) -> None:
    for value, known, what in (
        (spec.sampler, SAMPLERS, "sampler"),
        (spec.pruner, PRUNERS, "pruner"),
    ):
        if value.name not in known:
            raise UsageError(f"unknown {what} {value.name!r}", "use one of " + ", ".join(known))
    if spec.pruner.name != "none" and len(spec.objectives) > 1:
        raise UsageError(
            "pruning needs a single objective", "drop --pruner, or keep one --objective"
        )
    metrics = [o.metric for o in spec.objectives]
    if len(set(metrics)) != len(metrics):
        raise UsageError(f"an objective is given twice: {', '.join(metrics)}")
    if spec.sampler.name == "grid":
        spaces.grid_space(spec.searched)


def _check_budget(spec: SweepSpec) -> None:
    if spec.trials is not None and spec.trials < 1:
        raise UsageError(f"--trials must be at least 1, got {spec.trials}")
    if spec.timeout is not None and not (spec.timeout > 0 and math.isfinite(spec.timeout)):
        raise UsageError(f"--timeout must be a positive number of seconds, got {spec.timeout}")
    if spec.jobs < 1:
        raise UsageError(f"-j must be at least 1, got {spec.jobs}")
    if spec.seed is not None and not 0 <= spec.seed <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED}, got {spec.seed}")
    if spec.trials is None and spec.timeout is None and spec.sampler.name != "grid":
        raise UsageError(
            "the sweep has no budget",
            "give --trials N and/or --timeout SECONDS (grid stops itself)",
        )


def to_json(spec: SweepSpec) -> dict[str, Any]:
    """The spec as the manifest keeps it (sweep show, --resume)."""
    from dataclasses import asdict

    data = asdict(spec)
    data["params"] = {k: asdict(s) for k, s in spec.params.items()}
    return data


def from_json(data: dict[str, Any]) -> SweepSpec:
    params = {
        k: Space(**{**v, "choices": tuple(v.get("choices") or ())})
        for k, v in (data.get("params") or {}).items()
    }
    return SweepSpec(
        name=data["name"],
        params=params,
        objectives=tuple(Objective(**o) for o in data.get("objectives") or ()),
        sampler=Choice(**data.get("sampler") or {"name": "tpe"}),
        pruner=Choice(**data.get("pruner") or {"name": "none"}),
        trials=data.get("trials"),
        timeout=data.get("timeout"),
        jobs=int(data.get("jobs") or 1),
        seed=data.get("seed"),
        command=data.get("command"),
        storage=data.get("storage"),
        origin=data.get("origin"),
    )
