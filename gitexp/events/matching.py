"""Which events a notification target or a shell hook wants: ``EVENT`` or ``EVENT:STATUS``.

``run_finished:failed`` matches a ``run_finished`` whose ``status`` is
``failed``; ``run_finished:failed,interrupted`` either. The part after the
colon is matched against the payload's ``status`` (``ended`` for
``sweep_finished``), and only events that have one may take it. Both parts
are checked when gitexp.yaml is read, with a did-you-mean, so a typo is an
error before the run rather than a notification that never comes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitexp.common import suggest
from gitexp.common.errors import ConfigError
from gitexp.events.bus import EVENTS, Payload

RUN_STATUSES = ("succeeded", "failed", "interrupted", "pruned")
SWEEP_ENDINGS = ("completed", "exhausted", "timeout", "interrupted", "failed", "aborted")
#: event → (the payload field a status filter reads, its possible values)
STATUS_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "run_finished": ("status", RUN_STATUSES),
    "run_recorded": ("status", RUN_STATUSES),
    "trial_finished": ("status", RUN_STATUSES),
    "sweep_finished": ("ended", SWEEP_ENDINGS),
}
#: what a `notify:` entry hears unless it lists `events`
DEFAULT_NOTIFY = ("run_finished:failed", "sweep_finished", "sweep_new_best")


@dataclass(frozen=True)
class EventFilter:
    """One ``EVENT[:STATUS,...]`` selector; no statuses means any."""

    event: str
    statuses: frozenset[str] = frozenset()

    def matches(self, event: str, payload: Payload) -> bool:
        if event != self.event:
            return False
        if not self.statuses:
            return True
        field = STATUS_FIELDS[event][0]
        return str(payload.get(field)) in self.statuses


def parse_filter(text: Any, where: str) -> EventFilter:
    """``run_finished:failed`` → EventFilter, checked against the known events."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"gitexp.yaml: {where}: an event must be a name such as run_finished")
    event, _, statuses = (part.strip() for part in text.partition(":"))
    _check_event(event, where)
    wanted = frozenset(s.strip() for s in statuses.split(",") if s.strip())
    if wanted:
        _check_statuses(event, wanted, where)
    return EventFilter(event, wanted)


def parse_filters(value: Any, where: str, default: Iterable[str] = ()) -> tuple[EventFilter, ...]:
    """A list of selectors (one string is a list of one); None means ``default``."""
    if value is None:
        value = list(default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"gitexp.yaml: {where}: must be a list of events, e.g. [run_finished]")
    return tuple(parse_filter(item, where) for item in value)


def events_of(filters: Iterable[EventFilter]) -> list[str]:
    """The event names to subscribe to (in order, once each)."""
    return list(dict.fromkeys(f.event for f in filters))


def _check_event(event: str, where: str) -> None:
    if event not in EVENTS:
        hint = suggest.hint(event, EVENTS, "did you mean `{}`?")
        raise ConfigError(f"gitexp.yaml: {where}: unknown event `{event}`", hint)


def _check_statuses(event: str, wanted: frozenset[str], where: str) -> None:
    if event not in STATUS_FIELDS:
        raise ConfigError(
            f"gitexp.yaml: {where}: `{event}` has no status to match",
            f"statuses go with {', '.join(STATUS_FIELDS)}",
        )
    known = STATUS_FIELDS[event][1]
    for status in sorted(wanted - set(known)):
        hint = suggest.hint(status, known, "did you mean `{}`?") or "one of " + ", ".join(known)
        raise ConfigError(f"gitexp.yaml: {where}: `{event}` has no status `{status}`", hint)
