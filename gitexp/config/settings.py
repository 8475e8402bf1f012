"""gitexp.yaml: what to run, where params and metrics live, and the seed policy.

Sections of other capabilities (``docker``, ``artifacts``) are kept raw in
``Config.sections`` and read by their own modules. A key is accepted only
when something reads it.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gitexp.common import suggest
from gitexp.common.errors import ConfigError
from gitexp.common.layout import MAX_SEED
from gitexp.integrations.zerocode import ZeroCode

if TYPE_CHECKING:
    from gitexp.events.notify import Target
    from gitexp.events.shellhooks import Hook

CONFIG_FILE = "gitexp.yaml"
DEFAULT_PARAMS = ("params.yaml",)
# `loss: 0.3`, `val/acc=0.91`, `Mean squared error: 2548.07` (scikit-learn's examples):
# a name of words (the first starts with a letter), then `:` or `=`, then one number
DEFAULT_OUTPUT_PATTERNS = (
    r"^\s*(?P<name>[A-Za-z_][\w./-]*(?: [A-Za-z_(][\w./()%-]*){0,7})\s*[:=]\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$",
)
KNOWN_KEYS = {
    "notify",  # notifications on run events (gitexp/events/notify.py)
    "on",  # shell hooks per event (gitexp/events/shellhooks.py)
    "command",
    "params",
    "params_schema",  # a JSON Schema file or a pydantic `module:Class` (running/schema.py)
    "metrics",
    "metrics_from_output",
    "seed",
    "link",
    "outputs",
    "executor",
    "log_max_bytes",
    "run_root",
    "docker",
    "artifacts",
    "callbacks",
    "sweeps",
    "autolog",
    "ray",
    "distributed",
}
_YAML = (".yaml", ".yml")
SECTIONS = ("docker", "artifacts", "sweeps", "ray", "distributed")


@dataclass(frozen=True)
class Config:
    """The parsed gitexp.yaml; defaults when the file is absent."""

    command: tuple[str, ...] | str | None = None
    params_files: tuple[str, ...] = DEFAULT_PARAMS
    params_explicit: bool = False
    #: `params: {compose: conf/config.yaml}`: params composed from config groups (Hydra),
    #: written to ``params_files[0]`` (running/compose.py)
    params_compose: str | None = None
    params_schema: str | None = None  # `params_schema:` (running/schema.py)
    metrics_files: tuple[str, ...] = ()
    output_patterns: tuple[str, ...] = DEFAULT_OUTPUT_PATTERNS
    seed: int | None = None
    links: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    executor: str = "local"
    log_max_bytes: int = 1_000_000
    run_root: str | None = None
    callbacks: tuple[str, ...] = ()  # "module:function" listeners of run events
    notify: tuple[Target, ...] = ()  # `notify:` entries, ${VAR} unexpanded
    hooks: tuple[Hook, ...] = ()  # `on:` shell commands per event
    #: zero-code mode: `autolog:` and `seed: {auto: ..., deterministic: ...}`
    zero_code: ZeroCode = field(default_factory=ZeroCode)
    sections: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.sections.get(name) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{CONFIG_FILE}: `{name}` must be a mapping")
        return value


def load_config(root: Path) -> Config:
    """Read ``root/gitexp.yaml``; a missing file means all defaults."""
    path = root / CONFIG_FILE
    if not path.exists():
        return Config()
    raw = _read_yaml(path)
    if raw is None:
        return Config()
    if not isinstance(raw, dict):
        raise ConfigError(f"{CONFIG_FILE}: top level must be a mapping, got {type(raw).__name__}")
    raw = _on_key(raw)
    check_keys(raw, KNOWN_KEYS)
    files, compose = _params(raw.get("params"))
    return Config(
        command=_command(raw.get("command")),
        params_files=files or DEFAULT_PARAMS,
        params_explicit=bool(files),  # `params: []` = the default
        params_compose=compose,
        params_schema=_path(raw, "params_schema"),
        metrics_files=_inside_paths(raw, "metrics"),
        output_patterns=_patterns(raw.get("metrics_from_output", True)),
        seed=_seed(_seed_section(raw.get("seed")).get("value")),
        links=tuple(p.rstrip("/") for p in _str_list(raw, "link")),
        outputs=_inside_paths(raw, "outputs"),
        executor=str(raw.get("executor", "local")),
        log_max_bytes=_int(raw, "log_max_bytes", 1_000_000),
        run_root=_path(raw, "run_root"),
        callbacks=_callbacks(raw.get("callbacks")),
        notify=_notify(raw.get("notify")),
        hooks=_hooks(raw.get("on")),
        zero_code=_zero_code(raw.get("autolog", False), _seed_section(raw.get("seed"))),
        sections={k: raw[k] for k in SECTIONS if k in raw},
    )


def _params(value: Any) -> tuple[tuple[str, ...], str | None]:
    """``params: FILE | [FILES]``, or ``{compose: conf/config.yaml, file: params.yaml,
    files: [...]}``: the composed result is written to ``file``, the first params file."""
    if not isinstance(value, dict):
        return _str_list({"params": value}, "params"), None
    check_keys(value, ("compose", "file", "files"), "params")
    compose, file = value.get("compose"), value.get("file", DEFAULT_PARAMS[0])
    if compose is not None and not (isinstance(compose, str) and compose.endswith(_YAML)):
        raise ConfigError(f"{CONFIG_FILE}: `params.compose` must be a YAML file, got {compose!r}")
    if not isinstance(file, str) or not file.endswith((*_YAML, ".json")):
        raise ConfigError(f"{CONFIG_FILE}: `params.file` must be a YAML or JSON file, got {file!r}")
    return (file, *_str_list(value, "files")), compose


def _callbacks(value: Any) -> tuple[str, ...]:
    from gitexp.events.callbacks import parse_specs

    return parse_specs(value)


def _on_key(raw: dict[Any, Any]) -> dict[Any, Any]:
    """YAML 1.1 reads a bare ``on:`` key as True (as GitHub Actions users know)."""
    return {("on" if key is True else key): value for key, value in raw.items()}


def _notify(value: Any) -> tuple[Target, ...]:
    if value is None:  # nothing imported for the common case
        return ()
    from gitexp.events.notify import parse_targets

    return parse_targets(value)


def _hooks(value: Any) -> tuple[Hook, ...]:
    if value is None:
        return ()
    from gitexp.events.shellhooks import parse_hooks

    return parse_hooks(value)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {parse_error(path.name, text, exc)}") from exc


def parse_error(name: str, text: str, exc: Exception) -> str:
    """One line for a YAML/JSON syntax error: ``file:line: problem: "the line"``."""
    marks = [getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)]
    numbers = [m.line + 1 for m in marks if m is not None]
    if isinstance(exc, json.JSONDecodeError):
        numbers = [exc.lineno]
    problem = getattr(exc, "problem", None) or getattr(exc, "msg", None) or str(exc)
    lines = text.splitlines()
    shown = [n for n in numbers if 0 < n <= len(lines) and lines[n - 1].strip()]
    where = f"{name}:{(shown or numbers)[0]}" if numbers else name
    quoted = f": {lines[shown[0] - 1].strip()!r}" if shown else ""
    return f"{where}: {' '.join(str(problem).split())}{quoted}"


def _int(raw: dict[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ConfigError(f"{CONFIG_FILE}: `{key}` must be a positive integer, got {value!r}")


def _path(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{CONFIG_FILE}: `{key}` must be a path, got {value!r}")


def check_keys(raw: dict[str, Any], known: Collection[str], section: str = "") -> None:
    """Refuse a key nothing reads, with a did-you-mean (``docker.gpu`` → ``docker.gpus``):
    a typo would otherwise be ignored silently. ``section`` names a nested mapping."""
    where = f"{section}." if section else ""
    for key in raw:
        if key not in known:
            hint = suggest.hint(str(key), known, f"did you mean `{where}{{}}`?")
            raise ConfigError(f"{CONFIG_FILE}: unknown key `{where}{key}`", hint)


def _command(value: Any) -> tuple[str, ...] | str | None:
    if value is None or isinstance(value, str):
        return value.strip() or None if isinstance(value, str) else None
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    raise ConfigError(f"{CONFIG_FILE}: `command` must be a string or a list of strings")


def _str_list(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{CONFIG_FILE}: `{key}` must be a path or a list of paths")


def _inside_paths(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    """`metrics:` and `outputs:` name files of the run directory: a path that leaves
    it (absolute, `../`, `.git/`) would read or record a file of the host instead."""
    paths = _str_list(raw, key)
    for path in paths:
        if not confined(path):
            raise ConfigError(
                f"{CONFIG_FILE}: `{key}` path {path!r} is outside the repository",
                f"`{key}:` names files the run writes, relative to the repository root",
            )
    return paths


def confined(path: str) -> bool:
    """A relative path that stays inside its top folder (and out of ``.git``) as written;
    symlinks on disk are checked where the path is opened (running/confine.py)."""
    if not path or posixpath.isabs(path):
        return False
    parts = posixpath.normpath(path).split("/")
    return parts[0] not in ("..", ".git")


def _patterns(value: Any) -> tuple[str, ...]:
    if value is False or value is None:
        return ()
    if value is True:
        return DEFAULT_OUTPUT_PATTERNS
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        # `default` in the list keeps the `name: value` pattern beside one's own
        found = (DEFAULT_OUTPUT_PATTERNS if v == "default" else (_check_pattern(v),) for v in value)
        return tuple(p for patterns in found for p in patterns)
    raise ConfigError(f"{CONFIG_FILE}: `metrics_from_output` must be true/false or regex list")


def _check_pattern(pattern: str) -> str:
    """A regex with ``name`` and ``value`` groups, checked now rather than after the run."""
    try:
        groups = re.compile(pattern).groupindex
    except re.error as exc:
        raise ConfigError(
            f"{CONFIG_FILE}: `metrics_from_output` pattern {pattern!r} is not a regex: {exc}"
        ) from exc
    missing = [g for g in ("name", "value") if g not in groups]
    if missing:
        raise ConfigError(
            f"{CONFIG_FILE}: `metrics_from_output` pattern {pattern!r} has no "
            + " or ".join(f"(?P<{g}>...)" for g in missing)
            + " group",
            "name the metric's name and value groups, e.g. '(?P<name>\\w+) is (?P<value>[0-9.]+)'",
        )
    return pattern


def _seed_section(value: Any) -> dict[str, Any]:
    """``seed: 42`` or ``seed: {value: 42, auto: true, deterministic: true}``."""
    if not isinstance(value, dict):
        return {"value": value}
    check_keys(value, ("value", "auto", "deterministic"), "seed")
    for key in ("auto", "deterministic"):
        if not isinstance(value.get(key, False), bool):
            raise ConfigError(f"{CONFIG_FILE}: `seed.{key}` must be true or false")
    return value


def _zero_code(autolog: Any, seed: dict[str, Any]) -> ZeroCode:
    """``autolog: true | false | [frameworks] | {frameworks: [...], log_models: false}``."""
    if isinstance(autolog, list):
        autolog = {"frameworks": autolog}
    if isinstance(autolog, dict):
        check_keys(autolog, ("frameworks", "log_models"), "autolog")
        frameworks = _frameworks(autolog.get("frameworks") or [])
        log_models = autolog.get("log_models", True)
        autolog = True
    else:
        frameworks, log_models = (), True
    if not isinstance(autolog, bool) or not isinstance(log_models, bool):
        raise ConfigError(
            f"{CONFIG_FILE}: `autolog` must be true, false, a list of frameworks or a mapping "
            "with `frameworks` and `log_models: true/false`"
        )
    return ZeroCode(
        autolog, frameworks, log_models, seed.get("auto", False), seed.get("deterministic", False)
    )


def _frameworks(names: Any) -> tuple[str, ...]:
    from gitexp.integrations.registry import INTEGRATIONS

    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{CONFIG_FILE}: `autolog.frameworks` must be a list of names")
    for name in names:
        if name not in INTEGRATIONS:
            hint = suggest.hint(name, INTEGRATIONS, "did you mean `{}`?")
            raise ConfigError(f"{CONFIG_FILE}: `autolog`: unknown framework `{name}`", hint)
    return tuple(names)


def _seed(value: Any) -> int | None:
    if value is None or value == "random":
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{CONFIG_FILE}: `seed` must be a non-negative integer or `random`")
    if value > MAX_SEED:
        raise ConfigError(
            f"{CONFIG_FILE}: `seed` {value} is above {MAX_SEED}, the largest seed NumPy "
            "and PYTHONHASHSEED take"
        )
    return value


def command_argv(command: tuple[str, ...] | str) -> tuple[list[str], bool]:
    """(argv, via_shell): strings with shell syntax run through /bin/sh."""
    if isinstance(command, tuple):
        return list(command), False
    tokens = shlex.split(command)
    if any(t in {"|", "||", "&&", ";", ">", ">>", "<", "&"} for t in tokens) or "$(" in command:
        return ["/bin/sh", "-c", command], True
    return tokens, False
