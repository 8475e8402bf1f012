"""Stages and deprecation: `gitexp model promote|demote|deprecate`.

Nothing is moved or deleted (GTO's event model): promoting adds
``NAME#STAGE#N`` on the version's commit; demoting adds ``NAME#STAGE!#N``
for each version whose assignment to the stage still stands, so afterwards
no version holds it; deprecating a version adds ``NAME@vX.Y.Z!#N`` (GTO's
deregistration: it leaves its stages with it); deprecating the model adds
``NAME@deprecated#N`` on the commit of its newest tag, as GTO does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from gitexp.gitstore.repo import Repo
from gitexp.registry import message, tagnames, tagstore, writing
from gitexp.registry.errors import RegistryError
from gitexp.registry.state import Model, Version, find

if TYPE_CHECKING:
    from gitexp.events.bus import EventBus


@dataclass(frozen=True)
class Change:
    """A tag added (None when the registry already said so) and what held before."""

    model: str
    version: str | None
    stage: str | None
    tag: str | None
    commit: str | None
    previous: str | None = None  # the version that held the stage before a promotion


def _version(model: Model, version: str) -> Version:
    found = model.version(tagnames.check_version(version))
    if not found.active:
        raise RegistryError(f"model {model.name!r} version {version} is deprecated")
    return found


def promote(
    repo: Repo,
    name: str,
    version: str,
    stage: str,
    note: str | None = None,
    bus: EventBus | None = None,
) -> Change:
    """Assign ``stage`` to the version; publish ``model_promoted``."""
    tagnames.check_stage(stage, writing.allowed_stages(repo.root))
    model = find(tagstore.read_tags(repo), tagnames.check_model(name))
    chosen = _version(model, version)
    before = model.stages.get(stage)
    if before is not None and before.version == chosen.version:
        return Change(model.name, chosen.version, stage, None, chosen.commit, chosen.version)
    bus = writing.publisher(repo, bus)
    text = note or message.assignment(model.name, chosen.version, stage)
    namer = partial(tagnames.assign_tag, model.name, stage)
    tag = writing.create_numbered(repo, model.name, namer, chosen.commit, text)
    previous = before.version if before else None
    change = Change(model.name, chosen.version, stage, tag, chosen.commit, previous)
    _publish(repo, bus, "model_promoted", chosen, change, previous=previous)
    return change


def demote(
    repo: Repo,
    name: str,
    stage: str,
    version: str | None = None,
    note: str | None = None,
    bus: EventBus | None = None,
) -> list[Change]:
    """Take ``stage`` from every version it stands for (or from ``version`` only);
    publish ``model_demoted`` for each."""
    tagnames.check_stage(stage)
    model = find(tagstore.read_tags(repo), tagnames.check_model(name))
    holding = [v for v in model.versions if stage in v.assigned]
    if version is not None:
        holding = [v for v in holding if v.version == tagnames.check_version(version)]
    if not holding:
        which = f"version {version}" if version else "no version"
        raise RegistryError(f"model {model.name!r} has {which} in stage {stage!r}")
    bus = writing.publisher(repo, bus)
    changes = []
    for held in holding:
        text = note or message.unassignment(model.name, held.version, stage)
        namer = partial(tagnames.unassign_tag, model.name, stage)
        tag = writing.create_numbered(repo, model.name, namer, held.commit, text)
        changes.append(Change(model.name, held.version, stage, tag, held.commit))
        _publish(repo, bus, "model_demoted", held, changes[-1])
    return changes


def deprecate(
    repo: Repo,
    name: str,
    version: str | None = None,
    note: str | None = None,
    bus: EventBus | None = None,
) -> Change:
    """Deregister one version, or deprecate the whole model; publish ``model_deprecated``."""
    model = find(tagstore.read_tags(repo), tagnames.check_model(name))
    bus = writing.publisher(repo, bus)
    if version is None:
        return _deprecate_model(repo, model, note, bus)
    chosen = _version(model, version)
    text = note or message.deregistration(model.name, chosen.version)
    namer = partial(tagnames.deregister_tag, model.name, chosen.version)
    tag = writing.create_numbered(repo, model.name, namer, chosen.commit, text)
    change = Change(model.name, chosen.version, None, tag, chosen.commit)
    _publish(repo, bus, "model_deprecated", chosen, change)
    return change


def _deprecate_model(repo: Repo, model: Model, note: str | None, bus: EventBus) -> Change:
    if model.deprecated:
        raise RegistryError(f"model {model.name!r} is deprecated already")
    commit = model.events[-1].commit
    text = note or message.deprecation(model.name)
    namer = partial(tagnames.deprecate_tag, model.name)
    tag = writing.create_numbered(repo, model.name, namer, commit, text)
    change = Change(model.name, None, None, tag, commit)
    experiment = writing.experiment_at(repo, commit)
    fields = {"model": model.name, "version": None, "tag": tag, "commit": commit}
    writing.publish(bus, "model_deprecated", experiment, **fields)
    return change


def _publish(
    repo: Repo,
    bus: EventBus,
    event: str,
    version: Version,
    change: Change,
    **more: object,
) -> None:
    experiment = writing.experiment_at(repo, version.commit, version.details.experiment)
    fields = {"model": change.model, "version": change.version, "tag": change.tag}
    if change.stage is not None:
        fields["stage"] = change.stage
    fields["commit"] = change.commit
    writing.publish(bus, event, experiment, **fields, **more)
