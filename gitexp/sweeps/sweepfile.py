"""Sweep files: ``gitexp sweep sweep.yaml``, or ``gitexp sweep NAME`` for an entry
of gitexp.yaml's ``sweeps:`` section, read into a ``SweepSpec``.

Keys: name, params, objective, sampler, pruner, trials, timeout, jobs, seed,
command, storage, from (an experiment whose params every trial starts from);
an unknown one is refused with a did-you-mean.
Nested mappings under ``params:`` are nested keys, a string is a SPACE, a list
is a choice typed as YAML types it, any other value is fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitexp.common import suggest
from gitexp.common.errors import ConfigError, UsageError
from gitexp.sweeps import space as spaces
from gitexp.sweeps.space import Space
from gitexp.sweeps.spec import (
    Choice,
    Objective,
    Options,
    SweepSpec,
    apply_options,
    check,
    parse_objective,
)

FILE_KEYS = (
    "name", "params", "objective", "sampler", "pruner", "trials", "timeout", "jobs", "seed",
    "command", "storage", "from",
)  # fmt: skip


def build(options: Options, sections: dict[str, Any], root: Path, default_name: str) -> SweepSpec:
    """The sweep: the file's (or gitexp.yaml's entry) with the command line over it."""
    raw, where, entry_name = source(options.source, sections, root)
    spec = from_mapping(raw, where, entry_name or default_name)
    return check(apply_options(spec, options))


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
        origin=str(raw["from"]) if raw.get("from") else None,
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
