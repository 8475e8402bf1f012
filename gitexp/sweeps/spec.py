"""What a sweep is: params to search, objectives, sampler, pruner, budget, command.

A sweep comes from the command line, a sweep file (``gitexp sweep sweep.yaml``)
or a named entry of gitexp.yaml's ``sweeps:`` section (``gitexp sweep NAME``),
with command-line options over the file's. Every user mistake is refused here,
in one line, before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitexp.common import suggest
from gitexp.common.errors import ConfigError, UsageError
from gitexp.common.layout import MAX_SEED
from gitexp.sweeps import space as spaces
from gitexp.sweeps.space import Space

SAMPLERS = ("grid", "random", "tpe", "cmaes", "qmc", "nsga2")
PRUNERS = ("none", "median", "hyperband", "sha")
FILE_KEYS = (
    "name", "params", "objective", "sampler", "pruner", "trials", "timeout", "jobs", "seed",
    "command", "storage",
)  # fmt: skip
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


def build(options: Options, sections: dict[str, Any], root: Path, default_name: str) -> SweepSpec:
    """The sweep: the file's (or gitexp.yaml's entry) with the command line over it."""
    raw, where, entry_name = source(options.source, sections, root)
    spec = from_mapping(raw, where, entry_name or default_name)
    return check(apply_options(spec, options))


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


def source(
    source: str | None, sections: dict[str, Any], root: Path
) -> tuple[dict[str, Any], str, str | None]:
    """(mapping, where it came from, entry name) of the sweep file or gitexp.yaml entry."""
    if source is None:
        return {}, "the command line", None
    path = Path(source)
    path = path if path.is_absolute() or path.exists() else root / source
    if path.is_file():
        return _read_file(path), path.name, None
    named = sections.get("sweeps") or {}
    if not isinstance(named, dict):
        raise ConfigError("gitexp.yaml: `sweeps` must map sweep names to sweeps")
    if source in named:
        entry = named[source]
        if not isinstance(entry, dict):
            raise ConfigError(f"gitexp.yaml: `sweeps.{source}` must be a mapping")
        return entry, f"gitexp.yaml sweeps.{source}", source
    hint = suggest.hint(source, list(named), "did you mean `{}` (gitexp.yaml sweeps:)?")
    raise UsageError(
        f"no sweep file or gitexp.yaml sweep named {source!r}",
        hint or "give a sweep YAML file, or a name under `sweeps:` in gitexp.yaml",
    )


def _read_file(path: Path) -> dict[str, Any]:
    import yaml

    from gitexp.config.settings import parse_error

    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read sweep file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {parse_error(path.name, text, exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: a sweep file is a mapping (params:, objective:, ...)")
    return raw


def from_mapping(raw: dict[str, Any], where: str, default_name: str) -> SweepSpec:
    """A sweep from YAML (a file, or an entry of gitexp.yaml's `sweeps:`)."""
    for key in raw:
        if key not in FILE_KEYS:
            hint = suggest.hint(str(key), FILE_KEYS, "did you mean `{}`?")
            raise ConfigError(f"{where}: unknown key `{key}`", hint)
    objective = raw.get("objective")
    texts = objective if isinstance(objective, list) else [] if objective is None else [objective]
    return SweepSpec(
        name=str(raw.get("name") or default_name),
        params=_yaml_params(raw.get("params") or {}, where),
        objectives=tuple(_yaml_objective(t, where) for t in texts),
        sampler=_choice(raw.get("sampler"), "sampler", where) or Choice("tpe"),
        pruner=_choice(raw.get("pruner"), "pruner", where) or Choice("none"),
        trials=_number(raw, "trials", where, int),
        timeout=_number(raw, "timeout", where, float),
        jobs=_number(raw, "jobs", where, int) or 1,
        seed=_number(raw, "seed", where, int),
        command=_command(raw.get("command"), where),
        storage=str(raw["storage"]) if raw.get("storage") else None,
    )


def _yaml_params(value: Any, where: str, prefix: str = "") -> dict[str, Space]:
    """Nested mappings are nested keys: {model: {depth: int(2,8)}} is model.depth."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: `params` must map param names to spaces")
    out: dict[str, Space] = {}
    for key, item in value.items():
        full = f"{prefix}{key}"
        if isinstance(item, dict):
            out.update(_yaml_params(item, where, full + "."))
        else:
            out[full] = spaces.from_yaml(full, item)
    return out


def _yaml_objective(value: Any, where: str) -> Objective:
    if isinstance(value, dict) and len(value) == 1:
        ((metric, direction),) = value.items()
        value = f"{metric}:{direction}"
    if not isinstance(value, str):
        raise ConfigError(f"{where}: an objective is METRIC[:min|max], got {value!r}")
    return parse_objective(value)


def _choice(value: Any, what: str, where: str) -> Choice | None:
    """`tpe`, or {type: tpe, n_startup_trials: 5} (the rest goes to Optuna's class)."""
    if value is None or isinstance(value, str):
        return Choice(value) if value else None
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        options = {str(k): v for k, v in value.items() if k != "type"}
        return Choice(value["type"], options)
    raise ConfigError(f"{where}: `{what}` is a name or a mapping with `type:`, got {value!r}")


def _number(raw: dict[str, Any], key: str, where: str, kind: type) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: `{key}` must be a number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise ConfigError(f"{where}: `{key}` must be an integer, got {value!r}")
    return kind(value)


def _command(value: Any, where: str) -> list[str] | str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    raise ConfigError(f"{where}: `command` must be a string or a list of strings")


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


def grid_size(spec: SweepSpec) -> int | None:
    """How many points a grid sweep has (None for other samplers)."""
    if spec.sampler.name != "grid":
        return None
    return math.prod(len(v) for v in spaces.grid_space(spec.searched).values())


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
    )
