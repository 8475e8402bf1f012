"""Params files and ``-p`` overrides.

``-p model.depth=6`` sets a nested key of the default params file;
``-p other.yaml:key=v`` targets another file; ``-p +key=v`` adds a key that
does not exist yet. Values are YAML scalars or flow lists/maps. Unknown keys
are refused with a did-you-mean, because a typo would otherwise run a whole
experiment with the wrong value. With no params file at all, the values are
passed through to the script (``ByFile.loose``), whose
``gitexp.start_run(params=...)`` holds the defaults and checks them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from gitexp.common import suggest
from gitexp.common.errors import ConfigError, ParamError
from gitexp.common.mappings import deep_merge, flatten
from gitexp.config import yamlfile
from gitexp.config.settings import parse_error
from gitexp.config.yamlfile import BOM
from gitexp.gitstore.record import RunRecord
from gitexp.tracking.wire import LIVE_DIR, PARAMS_READ_FILE

_OVERRIDE = re.compile(
    r"^(?:(?P<file>[^=:]+\.(?:ya?ml|json)):)?(?P<add>\+)?(?P<key>[A-Za-z0-9_][\w.\-]*)=(?P<value>.*)$",
    re.DOTALL,
)
_TEMPLATE = re.compile(r"\$\{([A-Za-z0-9_][\w.\-]*)\}")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Override:
    """One parsed ``-p``: which file, which dotted key, the value, add or set."""

    file: str | None
    key: str
    value: Any
    add: bool
    text: str
    #: typed by a person (`-p`): a value of another kind than the file's is refused
    #: unless ``add`` (`+key`); False for a program's typed values (a sweep's)
    checked: bool = False
    #: the value is a string only because YAML read the unquoted text as one
    plain_text: bool = False


def parse_override(text: str) -> Override:
    match = _OVERRIDE.match(text)
    if not match:
        raise ParamError(
            f"malformed param override {text!r}",
            "write -p key=value, -p nested.key=value or -p file.yaml:key=value",
        )
    raw, key = match["value"], match["key"]
    value = _parse_value(raw, text, key)
    plain = isinstance(value, str) and raw.strip()[:1] not in ("'", '"')
    return Override(match["file"], key, value, bool(match["add"]), text, True, plain)


def refuse_repeats(texts: Iterable[str]) -> None:
    """The same key twice (`-p lr=1 -p lr=2`) is a mistake, not "the last one wins"."""
    seen: set[tuple[str, str]] = set()
    for text in texts:
        match = _OVERRIDE.match(text)
        if not match:
            continue
        where = (match["file"] or "", match["key"])
        if where in seen:
            raise ParamError(
                f"param {match['key']!r} is given twice",
                "pass each key once; a list value is written -p key=[a,b]",
            )
        seen.add(where)


def typed_override(key: str, value: Any) -> Override:
    """An override from a program: ``value`` is used as given, never parsed from text
    (a sweep's ``"on"`` stays a string, ``None`` stays null)."""
    match = _OVERRIDE.match(f"{key}=")
    if not match:
        raise ParamError(f"malformed param key {key!r}", "write key, nested.key or file.yaml:key")
    text = f"{key}={json.dumps(value, default=str)}"
    return Override(match["file"], match["key"], copy.deepcopy(value), bool(match["add"]), text)


_FLOAT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _parse_value(raw: str, text: str, key: str) -> Any:
    if not raw.strip():
        raise ParamError(
            f"-p {text!r} has no value",
            f"write -p {key}=null for null, or -p \"{key}=''\" for an empty string",
        )
    if _FLOAT.match(raw.strip()):
        return float(raw)  # YAML 1.1 (PyYAML) reads `1e-3` as a string; users mean a number
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        if raw.lstrip()[:1] in ("[", "{"):  # meant as a list or map: say where it broke
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise ParamError(
                f"-p {text!r}: the value is not a valid YAML list or map: {problem}",
                f"close the brackets, or quote it for text: -p \"{key}='{raw}'\"",
            ) from exc
        return raw  # not YAML: keep the text as a string (`-p glob=*.txt`)


def parse_file(name: str, text: str) -> dict[str, Any]:
    """Parse a params file's text by its extension (JSON, YAML, or a notebook's
    ``parameters`` cell: gitexp/running/notebooks.py)."""
    if name.endswith(".ipynb"):
        from gitexp.running import notebooks

        return notebooks.read_parameters(name, text)
    try:
        if name.endswith(".json"):
            data = json.loads(text.removeprefix(BOM))  # json refuses the BOM that YAML skips
        else:
            data, repeated = yamlfile.load(text)
            _warn_repeated(name, text, repeated)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse params file {parse_error(name, text, exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"params file {name} must hold a mapping at the top level")
    return data


_warned: set[tuple[str, str]] = set()


def _warn_repeated(name: str, text: str, repeated: list[yamlfile.Repeated]) -> None:
    """One warning per repeated key, once per process for one text of the file (a
    sweep's trials read the same file): PyYAML used the last value in silence."""
    if not repeated or (name, text) in _warned:
        return
    _warned.add((name, text))
    for found in repeated:
        log.warning(
            "gitexp: warning: %s:%d: key %r given twice; the last value is used",
            name,
            found.line,
            found.key,
        )


def dump_file(name: str, data: Mapping[str, Any], original: str | None = None) -> bytes:
    """The params file with overrides applied, as the run will read it.

    YAML is round-tripped through ruamel.yaml (what DVC uses for the same job)
    so the experiment's copy keeps the user's comments, key order and quoting;
    if the result would not read back as ``data`` with PyYAML (YAML 1.1 reads
    some plain scalars differently), it is written plainly instead. A UTF-8
    byte order mark the file began with is kept (an editor on Windows wrote it).
    """
    bom = BOM.encode() if original is not None and original.startswith(BOM) else b""
    return bom + _dumped(name, data, original)


def _dumped(name: str, data: Mapping[str, Any], original: str | None) -> bytes:
    if name.endswith(".ipynb"):
        from gitexp.running import notebooks

        return notebooks.with_parameters(name, original or "{}", data)
    if name.endswith(".json"):
        # default=str: a YAML-parsed -p value may be a date, which JSON cannot hold
        return (json.dumps(data, indent=2, default=str) + "\n").encode()
    if original is not None:
        kept = _round_trip(original, data)
        if kept is not None:
            return kept
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True).encode()


def _round_trip(original: str, data: Mapping[str, Any]) -> bytes | None:
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError as RuamelError

    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long value onto a second line
    try:
        doc = rt.load(original)
        if not isinstance(doc, dict):
            return None
        _update_in_place(doc, data)
        out = io.StringIO()
        rt.dump(doc, out)
    except (RuamelError, ValueError, TypeError, IndexError):  # ruamel trips on some scalars (`-_`)
        return None
    text = out.getvalue()
    try:
        same = yaml.safe_load(text) == dict(data)
    except yaml.YAMLError:
        same = False
    return text.encode() if same else None


def _update_in_place(doc: dict[str, Any], data: Mapping[str, Any]) -> None:
    """Set ``doc`` to ``data`` key by key, so untouched keys keep their comments."""
    for key in [k for k in doc if k not in data]:
        del doc[key]
    for key, value in data.items():
        if isinstance(value, Mapping) and isinstance(doc.get(key), dict):
            _update_in_place(doc[key], value)
        elif key not in doc or doc[key] != value:
            doc[key] = _quoted(value)


def _quoted(value: Any) -> Any:
    """A copy in which every string PyYAML (YAML 1.1) would misread as plain text
    (``on``, ``no``, ``1e3``, ``null``) is single-quoted: ruamel writes YAML 1.2."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(value, str):
        try:
            plain_ok = yaml.safe_load(value) == value and "\n" not in value
        except yaml.YAMLError:
            plain_ok = False
        return value if plain_ok else SingleQuotedScalarString(value)
    if isinstance(value, Mapping):
        return {k: _quoted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_quoted(v) for v in value]
    return copy.deepcopy(value)


class ByFile(dict[str, dict[str, Any]]):
    """Params per file, and ``loose``: `-p` values of a default params file that does
    not exist. They reach the script as they are (``gitexp.params()``), for a script
    whose defaults are its own, ``gitexp.start_run(params=...)`` (docs/notebooks.md);
    with nothing to check them against, ``+key`` and ``key`` mean the same."""

    loose: dict[str, Any]


def apply_overrides(
    files: Mapping[str, dict[str, Any]], overrides: Iterable[Override], default_file: str
) -> ByFile:
    """Return new params per file with the overrides applied (inputs untouched)."""
    result = ByFile({name: copy.deepcopy(data) for name, data in files.items()})
    result.loose = {}
    for ov in overrides:
        target = ov.file or default_file
        if target in result:
            _set(result[target], ov, target)
        elif ov.file is None:  # no params file at all: passed through to the script
            _set(result.loose, dataclasses.replace(ov, add=True), target)
        else:
            raise ParamError(
                f"params file {target!r} not found for override {ov.text!r}",
                f"create {target} or list it under `params:` in gitexp.yaml",
            )
    return result


def passed_through(files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The `-p` values that no params file holds (``ByFile.loose``), else {}."""
    loose = getattr(files, "loose", None)
    return dict(loose) if isinstance(loose, dict) else {}


def _set(data: dict[str, Any], ov: Override, file: str) -> None:
    *parents, leaf = ov.key.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.get(part)
        if child is None and ov.add:
            child = node[part] = {}
        if child is not None and not isinstance(child, dict):
            where = ".".join(parents[: i + 1])
            raise ParamError(
                f"cannot set {ov.key!r} in {file}: {where!r} is a value, not a mapping",
                f"set {where} itself, e.g. -p {where}=...",
            )
        if not isinstance(child, dict):
            _unknown(data, ov, file, ".".join(parents[: i + 1]))
        node = child
    if leaf not in node and not ov.add:
        _unknown(data, ov, file, ov.key)
    if ov.checked and not ov.add and leaf in node:
        _check_kind(node[leaf], ov, file)
    node[leaf] = ov.value


def _check_kind(old: Any, ov: Override, file: str) -> None:
    """A `-p` value of another kind than the file's is most likely a slip (Hydra
    refuses it too): a mapping for a value, a value for a mapping, text for a
    number. ``+key=value`` replaces on purpose."""
    new, key = ov.value, ov.key
    if isinstance(old, dict) and not isinstance(new, dict):
        raise ParamError(
            f"-p {ov.text!r} would replace the mapping {key!r} of {file} with a value",
            f"set one of its keys (-p {key}.<name>=...), or write -p +{key}=... to replace it",
        )
    if old is not None and not isinstance(old, dict) and isinstance(new, dict):
        raise ParamError(
            f"-p {ov.text!r} would replace the value {key!r} of {file} "
            f"({_shown(old)}) with a mapping",
            f"write -p +{key}=... to replace it",
        )
    if _is_number(old) and isinstance(new, str) and ov.plain_text:
        raise ParamError(
            f"-p {ov.text!r}: {key!r} is a number in {file} ({_shown(old)}), {new!r} is not",
            f"quote it if text is meant: -p \"{key}='{new}'\"",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return json.dumps(value, default=str)


def _unknown(data: dict[str, Any], ov: Override, file: str, key: str) -> NoReturn:
    hint = suggest.hint(ov.key, flatten(data), "did you mean `{}`?")
    hint = hint or f"use -p +{ov.key}=... to add a new key"
    raise ParamError(f"unknown param {key!r} in {file}", hint)


def merge(files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One nested dict of all params files, later files winning per key; a notebook's
    ``parameters`` cell wins over them all (its values are what the command runs with)."""
    ordered = sorted(files, key=lambda name: name.endswith(".ipynb"))
    return deep_merge([*(files[name] for name in ordered), passed_through(files)])


def render_command(argv: list[str], params: Mapping[str, Any], quote: bool) -> list[str]:
    """Substitute ``${key}`` in the command from the run's params."""
    flat = flatten(params)

    def value(match: re.Match[str]) -> str:
        key = match[1]
        if key not in flat:
            hint = suggest.hint(key, flat, "did you mean ${{{}}}?") or "define it in a params file"
            raise ParamError(f"command refers to unknown param ${{{key}}}", hint)
        text = _scalar_text(flat[key])
        if quote:
            import shlex

            return shlex.quote(text)
        return text

    return [_TEMPLATE.sub(value, arg) for arg in argv]


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def unread_overrides(record: RunRecord, run_dir: Path) -> list[str]:
    """A run's warning when its `-p` values were passed through (no params file held
    them) and the command never read its params (no ``params.read``, wire.py)."""
    if record.params_files or not record.overrides:
        return []
    if (run_dir / LIVE_DIR / PARAMS_READ_FILE).exists():
        return []
    given = ", ".join(record.overrides)
    return [
        f"{given}: there is no params file, and the command never read these values "
        "(gitexp.params() or gitexp.start_run(params=...)); create params.yaml for a "
        "script that reads its params some other way"
    ]
