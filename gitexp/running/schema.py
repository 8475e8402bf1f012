"""Params checked against a schema before a run (or a sweep's trial) starts.

``params_schema:`` in gitexp.yaml names either a JSON Schema file of the
snapshot (``conf/schema.json``, or YAML) validated with the ``jsonschema``
library, or a pydantic model as ``module:Class`` (imported with the
repository's root first on the path, as callbacks are). The merged params
of a run are checked in ``prepare``, before any ref exists: a wrong type,
an out-of-range value or a missing required key is one line naming the key
and the rule, exit 2. Neither library is imported unless the key is set.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitexp.common.errors import ConfigError, ParamError
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob

if TYPE_CHECKING:
    import pygit2

_MODEL = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_IMPORT = threading.Lock()  # sys.path and imports, from a sweep's threads


class ParamsSchemaError(ParamError):
    """The params of a run break its schema (exit 2; nothing was written)."""


@dataclass(frozen=True)
class Problem:
    """The first rule the params break: which key, what is wrong, which rule."""

    key: str
    message: str
    rule: str


@dataclass(frozen=True)
class Schema:
    source: str  # as gitexp.yaml names it
    find: Callable[[dict[str, Any]], Problem | None]

    def check(self, params: dict[str, Any]) -> None:
        problem = self.find(params)
        if problem is not None:
            raise ParamsSchemaError(
                f"param {problem.key!r} breaks the params schema: {problem.message} "
                f"(rule {problem.rule!r} of {self.source})"
            )


def load(repo: Repo, tree: pygit2.Oid, source: str) -> Schema:
    """The schema ``source`` names: a model ``module:Class`` or a file of ``tree``."""
    if _MODEL.match(source) and not source.endswith((".json", ".yaml", ".yml")):
        return Schema(source, _pydantic(_model(repo, source)))
    return Schema(source, _json_schema(source, _schema_file(repo, tree, source)))


def check(repo: Repo, tree: pygit2.Oid, source: str | None, params: dict[str, Any]) -> None:
    """Refuse ``params`` that break the schema ``source`` (None: no schema)."""
    if source:
        load(repo, tree, source).check(params)


def _schema_file(repo: Repo, tree: pygit2.Oid, path: str) -> dict[str, Any]:
    import yaml

    data = read_blob(repo, tree, path)
    if data is None:
        raise ConfigError(f"params_schema {path!r} not found", "create it or fix gitexp.yaml")
    try:
        text = data.decode("utf-8")
        schema = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot read params_schema {path}: {problem}") from exc
    if not isinstance(schema, dict):
        raise ConfigError(f"params_schema {path} must hold a JSON Schema object")
    return schema


def _json_schema(path: str, schema: dict[str, Any]) -> Callable[[dict[str, Any]], Problem | None]:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        problem = f"params_schema {path} is not a valid JSON Schema: {exc.message}"
        raise ConfigError(problem) from exc
    validator = cls(schema)

    def find(params: dict[str, Any]) -> Problem | None:
        error = exceptions.best_match(validator.iter_errors(params))
        return None if error is None else _json_problem(error)

    return find


def _json_problem(error: Any) -> Problem:
    """The key a jsonschema error is about (a missing key's own name, not its parent's)."""
    parts = [str(p) for p in error.absolute_path]
    rule = str(error.validator)
    if rule == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        return Problem(".".join([*parts, str(missing[0])]), "missing, and required", rule)
    return Problem(".".join(parts) or "(all params)", str(error.message), rule)


def _model(repo: Repo, source: str) -> Any:
    module, _, attr = source.partition(":")
    with _IMPORT:
        if str(repo.root) not in sys.path:
            sys.path.insert(0, str(repo.root))
        try:
            target: Any = importlib.import_module(module)
            for part in attr.split("."):
                target = getattr(target, part)
        except Exception as exc:
            raise ConfigError(
                f"cannot load params_schema {source!r}: {type(exc).__name__}: {exc}"
            ) from exc
    if not callable(getattr(target, "model_validate", None)):
        raise ConfigError(f"params_schema {source!r} is not a pydantic model (BaseModel)")
    return target


def _pydantic(model: Any) -> Callable[[dict[str, Any]], Problem | None]:
    from pydantic import ValidationError

    def find(params: dict[str, Any]) -> Problem | None:
        try:
            model.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first.get("loc", ())) or "(all params)"
            message = "missing, and required" if first["type"] == "missing" else first["msg"]
            return Problem(key, str(message), str(first["type"]))
        return None

    return find
