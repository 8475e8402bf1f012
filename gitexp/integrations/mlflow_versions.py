"""gitexp's model versions as MLflow sees them: numbers, entities, the run-start view.

MLflow numbers a model's versions 1, 2, 3; gitexp's registry (GTO's tags)
names them in SemVer. Version N is ``vN.0.0`` (tag ``wine@v3.0.0`` is MLflow's
version 3), and the next number is the major of the highest version ever
registered, plus one: what ``registering.register`` gives with a major bump.
Versions with another number (``v0.0.1`` or ``v1.2.0`` from `gitexp model
register`) have no MLflow number and are not listed through MLflow's API.

A version is READY at once, and its stage is MLflow's "None" ("Archived":
deprecated in gitexp); aliases are gitexp stages. Imported by
gitexp/integrations/mlflow_registry.py once MLflow is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
)

from gitexp.registry import tagnames

_MAJOR = re.compile(r"^v([1-9]\d*)\.0\.0$")
_TAG: Any = ModelVersionTag  # MLflow's entities are untyped
_ALIAS: Any = RegisteredModelAlias
EXPERIMENT_TAG, COMMIT_TAG, GIT_TAG = "gitexp.experiment", "gitexp.commit", "gitexp.tag"


def number_of(semver: str) -> int | None:
    """MLflow's number of a gitexp version: N for ``vN.0.0``, else None."""
    match = _MAJOR.match(semver)
    return int(match[1]) if match else None


def semver_of(number: int) -> str:
    return f"v{number}.0.0"


def next_number(versions: list[str]) -> int:
    """The number the next registration gets: a major bump of the highest version."""
    highest = max(versions, key=tagnames.version_key, default=None)
    return int(tagnames.version_key(tagnames.bump(highest, "major"))[0])


@dataclass
class Version:
    """One model version, from the registry at run start or registered by this run."""

    model: str
    number: int
    source: str
    created_ms: int
    active: bool = True
    own: bool = False  # registered by this run (once it is recorded)
    run_id: str | None = None
    user: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    location: str | None = None  # this run's: where MLflow can load it (download URI)

    def entity(self, aliases: list[str], numeric: bool = False) -> ModelVersion:
        """MLflow's entity; ``numeric``: the version an int, as MLflow's search
        helpers compare it (MLflow's API gives it as text)."""
        status = "READY"
        stage = "None" if self.active else "Archived"
        tags = [_TAG(k, v) for k, v in self.tags.items()]
        message = f"registered when the gitexp run is recorded ({self.tags.get(GIT_TAG)})"
        number: Any = self.number if numeric else str(self.number)
        return ModelVersion(
            self.model, number, self.created_ms, self.created_ms, self.description,
            self.user, stage, self.source, self.run_id, status, message if self.own else None,
            tags, aliases=aliases,
        )  # fmt: skip


@dataclass
class Model:
    """A registered model: its versions (by number) and aliases (alias → number)."""

    name: str
    created_ms: int
    versions: dict[int, Version] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    semvers: list[str] = field(default_factory=list)  # every version ever, numbered or not
    description: str | None = None

    def aliases_of(self, number: int) -> list[str]:
        return sorted(a for a, n in self.aliases.items() if n == number)

    def latest(self) -> Version | None:
        active = [v for v in self.versions.values() if v.active]
        return max(active, key=lambda v: v.number, default=None)

    def entity(self) -> RegisteredModel:
        latest = self.latest()
        shown = [latest.entity(self.aliases_of(latest.number))] if latest else []
        aliases = [_ALIAS(a, str(n)) for a, n in sorted(self.aliases.items())]
        updated = max([self.created_ms, *(v.created_ms for v in self.versions.values())])
        return RegisteredModel(
            self.name, self.created_ms, updated, self.description, shown, aliases=aliases
        )


def from_snapshot(snapshot: dict[str, Any]) -> dict[str, Model]:
    """The models of the registry at run start (gitexp/registry/runview.py)."""
    return {name: _model(name, found) for name, found in snapshot.get("models", {}).items()}


def _model(name: str, found: dict[str, Any]) -> Model:
    listed = [v for v in found.get("versions", []) if v.get("registered")]
    versions = [_version(name, v) for v in listed]
    numbered = {v.number: v for v in versions if v is not None}
    aliases = {a: number_of(str(s)) for a, s in (found.get("stages") or {}).items()}
    created = min((v.created_ms for v in numbered.values()), default=0)
    semvers = [str(v["version"]) for v in listed]
    known = {a: n for a, n in aliases.items() if n is not None}
    return Model(name, created, numbered, known, semvers)


def _version(model: str, found: dict[str, Any]) -> Version | None:
    number = number_of(str(found.get("version")))
    if number is None:
        return None
    tags = {
        EXPERIMENT_TAG: str(found.get("experiment") or ""),
        COMMIT_TAG: str(found.get("commit") or ""),
        GIT_TAG: tagnames.version_tag(model, semver_of(number)),
    }
    return Version(
        model, number, str(found.get("path") or ""), _ms(found.get("registered_at")),
        bool(found.get("active", True)), user=found.get("registered_by"), tags=tags,
    )  # fmt: skip


def _ms(iso: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return 0
