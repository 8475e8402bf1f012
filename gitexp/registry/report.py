"""The registry as plain data: what `model list` / `model show` print, and their JSON.

Views turn these dicts into tables; they never see tags or pygit2 objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from gitexp.registry.state import Model, Version
from gitexp.registry.tagnames import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN
from gitexp.registry.tagstore import ModelTag

EVENT_WORDS = {
    REGISTER: "registered",
    DEREGISTER: "deprecated",
    ASSIGN: "promoted",
    UNASSIGN: "demoted",
    DEPRECATE: "model deprecated",
}


def when(tag: ModelTag) -> str:
    """The tag's time in ISO 8601, in the tagger's time zone."""
    zone = timezone(timedelta(minutes=tag.offset))
    return datetime.fromtimestamp(tag.time, zone).isoformat(timespec="seconds")


def version_dict(version: Version, experiments: dict[str, str]) -> dict[str, Any]:
    found = version.details.model_file
    return {
        "version": version.version,
        "active": version.active,
        "registered": version.registered,
        "stages": list(version.stages),
        "commit": version.commit,
        "experiment": experiments.get(version.commit) or version.details.experiment,
        "path": found.path if found else None,
        "storage": found.storage if found else None,
        "checksum": (found.md5 or found.blob or found.tree) if found else None,
        "metrics": version.details.metrics,
        "registered_at": when(version.registration) if version.registration else None,
        "registered_by": version.registration.tagger if version.registration else None,
    }


def model_dict(model: Model, experiments: dict[str, str]) -> dict[str, Any]:
    """One model: latest version, version per stage, every version."""
    latest = model.latest
    return {
        "model": model.name,
        "latest": latest.version if latest else None,
        "stages": {stage: v.version for stage, v in model.stages.items()},
        "deprecated": model.deprecated,
        "versions": [version_dict(v, experiments) for v in model.versions],
    }


def history(model: Model, experiments: dict[str, str]) -> list[dict[str, Any]]:
    """Every tag of the model, oldest first: who, when, what, which experiment."""
    rows = []
    for tag in model.events:
        version = tag.name.version or _version_at(model, tag.commit)
        metrics = model.version(version).details.metrics if tag.name.action == REGISTER else {}
        rows.append(
            {
                "time": when(tag),
                "event": EVENT_WORDS[tag.name.action],
                "version": version if tag.name.action != DEPRECATE else None,
                "stage": tag.name.stage,
                "by": f"{tag.tagger} <{tag.email}>",
                "experiment": experiments.get(tag.commit),
                "commit": tag.commit,
                "tag": tag.tag,
                "metrics": metrics,
            }
        )
    return rows


def _version_at(model: Model, commit: str) -> str:
    found = model.at_commit(commit)
    return found.version if found else commit
