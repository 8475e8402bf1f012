"""The model tags folded into models, versions and stages, the way GTO reads them.

GTO's rules (gto/base.py; `gto show` sorts by time): events are ordered by
their tag's time. A version is active while its last registration event is
a registration (``@v1.0.0``) rather than a deregistration (``@v1.0.0!``).
An assignment (``#prod#N``) names a commit; it belongs to the version
registered there, or to a version named by the commit's id when none is. A
(version, stage) pair holds while its last event is an assignment; a stage
goes to the active version whose holding assignment is the most recent. A
model is deprecated while its very last event is ``@deprecated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitexp.registry import tagnames
from gitexp.registry.errors import UnknownModelError, UnknownVersionError
from gitexp.registry.message import Details, parse
from gitexp.registry.tagnames import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN
from gitexp.registry.tagstore import ModelTag


@dataclass(frozen=True)
class Version:
    """One version of a model: its commit, its registration and what it says."""

    version: str
    commit: str
    registration: ModelTag | None  # None: a commit given a stage without a version (GTO)
    details: Details
    active: bool
    stages: tuple[str, ...] = ()  # the stages it holds
    assigned: tuple[str, ...] = ()  # stages whose assignment to it stands (held or not)

    @property
    def registered(self) -> bool:
        return self.registration is not None


@dataclass(frozen=True)
class Model:
    name: str
    versions: list[Version]  # highest SemVer first; unregistered commits last
    stages: dict[str, Version]
    deprecated: bool
    events: list[ModelTag] = field(default_factory=list)  # oldest first

    @property
    def latest(self) -> Version | None:
        """The highest active registered version (GTO's `latest`)."""
        return next((v for v in self.versions if v.active and v.registered), None)

    def version(self, version: str) -> Version:
        for found in self.versions:
            if found.version == version:
                return found
        raise UnknownVersionError(self.name, version, [v.version for v in self.versions])

    def at_commit(self, commit: str) -> Version | None:
        return next((v for v in self.versions if v.commit == commit and v.registered), None)


def models(tags: list[ModelTag]) -> dict[str, Model]:
    """name → model, from every model tag (``read_tags`` order: oldest first)."""
    by_model: dict[str, list[ModelTag]] = {}
    for tag in tags:
        by_model.setdefault(tag.name.model, []).append(tag)
    return {name: _model(name, events) for name, events in sorted(by_model.items())}


def find(tags: list[ModelTag], name: str) -> Model:
    found = models(tags).get(name)
    if found is None:
        raise UnknownModelError(name)
    return found


def _model(name: str, events: list[ModelTag]) -> Model:
    regs = _registrations(events)
    commits = {tag.commit: version for version, tag in regs.items()}
    active = _active_versions(events, regs)
    for tag in events:  # commits given a stage without a registered version
        if tag.name.action in (ASSIGN, UNASSIGN) and tag.commit not in commits:
            commits[tag.commit] = tag.commit
            active.add(tag.commit)
    standing = _standing(events, commits, active)
    holders = _holders(standing)
    versions = [
        _version(v, commits, regs, v in active, holders, standing) for v in set(commits.values())
    ]
    versions.sort(key=lambda v: (v.registered, tagnames.version_key(v.version)), reverse=True)
    by_name = {v.version: v for v in versions}
    stages = {stage: by_name[v] for stage, v in sorted(holders.items())}
    deprecated = events[-1].name.action == DEPRECATE
    return Model(name, versions, stages, deprecated, events)


def _registrations(events: list[ModelTag]) -> dict[str, ModelTag]:
    """version → its first registration tag."""
    found: dict[str, ModelTag] = {}
    for tag in events:
        if tag.name.action == REGISTER and tag.name.version:
            found.setdefault(tag.name.version, tag)
    return found


def _active_versions(events: list[ModelTag], regs: dict[str, ModelTag]) -> set[str]:
    last: dict[str, str] = {}
    for tag in events:
        if tag.name.action in (REGISTER, DEREGISTER) and tag.name.version in regs:
            last[tag.name.version] = tag.name.action
    return {v for v, action in last.items() if action == REGISTER}


def _standing(
    events: list[ModelTag], commits: dict[str, str], active: set[str]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(version, stage) → when the assignment that still stands was made."""
    standing: dict[tuple[str, str], tuple[int, int] | None] = {}
    for tag in events:
        version, stage = commits.get(tag.commit), tag.name.stage
        if stage is None or version is None:
            continue
        if tag.name.action == ASSIGN:
            standing[(version, stage)] = tag.order
        elif tag.name.action == UNASSIGN:
            standing[(version, stage)] = None
    return {k: when for k, when in standing.items() if when is not None and k[0] in active}


def _holders(standing: dict[tuple[str, str], tuple[int, int]]) -> dict[str, str]:
    """stage → the version holding it: the most recent standing assignment."""
    best: dict[str, tuple[tuple[int, int], str]] = {}
    for (version, stage), when in standing.items():
        if stage not in best or when > best[stage][0]:
            best[stage] = (when, version)
    return {stage: version for stage, (_, version) in best.items()}


def _version(
    version: str,
    commits: dict[str, str],
    regs: dict[str, ModelTag],
    active: bool,
    holders: dict[str, str],
    standing: dict[tuple[str, str], tuple[int, int]],
) -> Version:
    tag = regs.get(version)
    commit = tag.commit if tag else next(c for c, v in commits.items() if v == version)
    details = parse(tag.message) if tag else Details()
    stages = tuple(sorted(s for s, v in holders.items() if v == version))
    assigned = tuple(sorted(s for v, s in standing if v == version))
    return Version(version, commit, tag, details, active, stages, assigned)
