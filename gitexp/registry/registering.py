"""`gitexp model register`: a version tag ``NAME@vX.Y.Z`` on an experiment's commit.

The version is ``--version`` as given, or the model's highest version ever
registered bumped (``--bump``; a patch by default, v0.0.1 first, as GTO).
Tags are created "fail if exists": when another process takes the version
between our look and our write, a computed version is bumped again and
tried anew; a version given with ``--version`` is reported as taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitexp.common.errors import StoreError, describe_exit
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.registry import message, tagnames, tagstore, writing
from gitexp.registry.errors import RegistryError, VersionExistsError
from gitexp.registry.locate import artifacts, entry_at, locate
from gitexp.registry.message import Details, ModelFile
from gitexp.registry.source import resolve as resolve_source
from gitexp.registry.state import models
from gitexp.registry.tagnames import DEREGISTER, REGISTER
from gitexp.registry.tagstore import ModelTag

if TYPE_CHECKING:
    from gitexp.events.bus import EventBus


@dataclass(frozen=True)
class Request:
    """What `gitexp model register` was asked."""

    model: str
    experiment: str  # name, prefix or commit, as `store.resolve` reads it
    path: str | None = None
    version: str | None = None
    bump: str | None = None
    summary: str | None = None  # -m: the message's first line
    force: bool = False  # register an experiment that did not succeed


@dataclass(frozen=True)
class Registered:
    model: str
    version: str
    tag: str
    commit: str
    experiment: str
    model_file: ModelFile
    picked: str | None = None  # why this experiment, when --from named a sweep


def register(repo: Repo, request: Request, bus: EventBus | None = None) -> Registered:
    """Tag the experiment's commit as a new version of the model; publish
    ``model_registered``."""
    model = tagnames.check_model(request.model)
    if request.version is not None:
        tagnames.check_version(request.version)
    tagnames.check_bump(request.bump)
    if request.version is not None and request.bump is not None:
        raise RegistryError("give --version or --bump, not both")
    source = resolve_source(repo, request.experiment)
    name, oid = source.name, source.commit
    commit = str(oid)
    stored = store.load(repo, name, oid)
    _check_status(name, stored.run, request.force)
    where, rev = f"experiment {name!r}", store.ref_name(name)
    path = request.path or _previous_path(repo, model, commit, stored.run)
    found = locate(repo, commit, stored.run, path, where, rev)
    details = Details(found, name, message.key_metrics(stored.metrics))
    bus = writing.publisher(repo, bus)  # a callback that cannot load: refused before the tag
    version, tag = _create(repo, model, commit, request, details, name)
    done = Registered(model, version, tag, commit, name, found, source.picked)
    _announce(bus, done, details)
    return done


def _announce(bus: EventBus, done: Registered, details: Details) -> None:
    found = done.model_file
    writing.publish(
        bus,
        "model_registered",
        done.experiment,
        model=done.model,
        version=done.version,
        tag=done.tag,
        commit=done.commit,
        path=found.path,
        storage=found.storage,
        checksum=found.md5 or found.blob or found.tree,
        metrics=details.metrics,
    )


def _check_status(name: str, run: dict[str, object], force: bool) -> None:
    status = str(run.get("status") or "unknown")
    if status != "succeeded" and not force:
        code = run.get("exit_code")
        said = describe_exit(code if isinstance(code, int) else None, status)
        raise RegistryError(
            f"experiment {name!r} {said}; refusing to register it as a model",
            "pass --force to register it anyway",
        )


def _create(
    repo: Repo, model: str, commit: str, request: Request, details: Details, name: str
) -> tuple[str, str]:
    """(version, tag) made; a computed version taken meanwhile is bumped again."""
    tried: str | None = None
    for _ in range(writing.MAX_TRIES):
        tags = tagstore.read_tags(repo)
        _check_commit_free(tags, model, commit, name)
        floor = max(
            [v for v in (_highest(tags, model), tried) if v], key=tagnames.version_key, default=None
        )
        version = request.version or tagnames.bump(floor, request.bump)
        tag = tagnames.version_tag(model, version)
        text = message.registration(model, version, details, request.summary)
        if tagstore.create(repo, tag, commit, text, writing.tag_time(tags, model)):
            return version, tag
        if request.version is not None:
            raise VersionExistsError(model, version, _where(repo, tag))
        tried = version
    raise StoreError(f"gave up registering {model!r}: other processes kept taking the versions")


def _highest(tags: list[ModelTag], model: str) -> str | None:
    """The highest version the model ever had (deregistered ones count: no reuse)."""
    versions = [
        t.name.version
        for t in tags
        if t.name.model == model and t.name.action in (REGISTER, DEREGISTER) and t.name.version
    ]
    return max(versions, key=tagnames.version_key, default=None)


def _previous_path(repo: Repo, model: str, commit: str, run: dict[str, Any]) -> str | None:
    """No --path: the path the model's highest registered version has, when this
    commit has it too (``--bump patch`` of a retrained model needs no --path)."""
    found = models(tagstore.read_tags(repo)).get(model)
    for version in found.versions if found else []:
        known = version.details.model_file
        if version.registered and known is not None:
            return known.path if _has(repo, commit, run, known.path) else None
    return None


def _has(repo: Repo, commit: str, run: dict[str, Any], path: str) -> bool:
    """Whether the commit holds ``path``: a DVC artifact, a `.dvc` pointer, or git's."""
    if any(record["path"] == path for record in artifacts(run)):
        return True
    return any(entry_at(repo, commit, p) is not None for p in (path, path + ".dvc"))


def _check_commit_free(tags: list[ModelTag], model: str, commit: str, experiment: str) -> None:
    """One version per commit: GTO finds the version a stage tag means by its commit."""
    found = models(tags).get(model)
    version = found.at_commit(commit) if found else None
    if version is not None:
        state = "" if version.active else ", deregistered"
        v = version.version
        raise RegistryError(
            f"model {model!r} already has version {v}{state} on this commit",
            f"promote it: `gitexp model promote {model} {v} --stage STAGE`; if {v} differs "
            f"on a remote, `gitexp model pull {model} --take-remote` drops it here, then "
            f"`gitexp model register {model} --from {experiment} --bump patch` registers "
            "this run as the next version",
        )


def _where(repo: Repo, tag: str) -> str:
    for found in tagstore.read_tags(repo):
        if found.tag == tag:
            named = writing.experiment_at(
                repo, found.commit, message.parse(found.message).experiment
            )
            return f"experiment {named!r}" if named else f"commit {found.commit[:10]}"
    return "a tag that is not a model tag"
