"""What every registry action shares: a tag's time, numbered tags made without
clashing, the stages .gto allows, and the bus the events go to.

Times: GTO orders events by their tag's time, in seconds. So that GTO reads
two quick actions on one model in the order they happened, a new tag is
dated one second after the model's newest tag when that is not in the past
(a script promoting and demoting within a second gets tags a second apart).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gitexp.common.errors import ConfigError, StoreError
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.registry import tagstore
from gitexp.registry.tagstore import ModelTag

if TYPE_CHECKING:
    from gitexp.events.bus import EventBus

MAX_TRIES = 50  # tags taken by concurrent processes before giving up
GTO_CONFIG = ".gto"


def tag_time(tags: list[ModelTag], model: str) -> int:
    """Now, or one second after the model's newest tag when that is later."""
    newest = max((t.time for t in tags if t.name.model == model), default=0)
    return max(int(time.time()), newest + 1)


def next_counter(tags: list[ModelTag], model: str) -> int:
    """GTO's ``#N``: one more than the largest counter among the model's tags."""
    return max((t.name.counter or 0 for t in tags if t.name.model == model), default=0) + 1


def create_numbered(
    repo: Repo, model: str, name_for: Callable[[int], str], commit: str, message: str
) -> str:
    """Create the tag ``name_for(N)``; when another process took N first, look again."""
    for _ in range(MAX_TRIES):
        tags = tagstore.read_tags(repo)
        tag = name_for(next_counter(tags, model))
        if tagstore.create(repo, tag, commit, message, tag_time(tags, model)):
            return tag
    raise StoreError(f"gave up creating a tag for model {model!r}: others kept taking the number")


def allowed_stages(root: Path) -> list[str] | None:
    """The stages GTO's config (``.gto``: ``stages: [dev, prod]``) allows; None: any."""
    path = root / GTO_CONFIG
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{GTO_CONFIG}: cannot be read: {exc}") from exc
    stages = raw.get("stages") if isinstance(raw, dict) else None
    if stages is None:
        return None
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise ConfigError(f"{GTO_CONFIG}: `stages` must be a list of names")
    return list(stages)


def experiment_at(repo: Repo, commit: str, named: str | None = None) -> str | None:
    """The experiment whose ref points at ``commit`` (``named`` first), if any."""
    targets = store.ref_targets(repo)
    if named and targets.get(named) == commit:
        return named
    return next((name for name, sha in sorted(targets.items()) if sha == commit), None)


def publisher(repo: Repo, bus: EventBus | None) -> EventBus:
    """The bus given, else one with the callbacks gitexp.yaml declares."""
    if bus is not None:
        return bus
    from gitexp.config.settings import load_config
    from gitexp.events import bus_for

    return bus_for(load_config(repo.root), repo.root)


def publish(bus: EventBus, event: str, experiment: str | None, **fields: Any) -> None:
    """Every payload has ``name`` and ``ref``: the experiment (None for a commit that
    is none)."""
    ref = store.ref_name(experiment) if experiment else None
    bus.publish(event, {"name": experiment, "ref": ref, **fields})
