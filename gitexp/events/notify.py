"""Notifications: the `notify:` entries of gitexp.yaml, heard on the bus, sent off the run's path.

An entry is an Apprise URL (``url:``; a bare string is one) or a JSON
``webhook:``, with the events it wants (``events:``, default
``run_finished:failed``, ``sweep_finished``, ``sweep_new_best``; see
gitexp/events/matching.py), a time limit per message (``timeout:``,
default 10 s), a ``name:`` for reports, and for a webhook ``headers:``.
``${VAR}`` in an address or a header is expanded when a message is sent
(gitexp/events/secrets.py). The listener only queues: the message is
written and sent by the dispatcher (gitexp/events/dispatch.py), so a
target that fails or hangs costs the run nothing and is reported in one
line.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitexp.common import suggest
from gitexp.common.errors import ConfigError, UsageError
from gitexp.events import matching, secrets
from gitexp.events.bus import EVENTS, EventBus, Listener, Payload
from gitexp.events.dispatch import Delivery, Dispatcher, run_limited, shared
from gitexp.events.matching import EventFilter
from gitexp.events.messages import render
from gitexp.events.senders import SENDERS, Outgoing, SendError, prepare, sender

DEFAULT_TIMEOUT_S = 10.0
ENTRY_KEYS = (*SENDERS, "events", "timeout", "name", "headers")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class Target:
    """One `notify:` entry as written (``address`` unexpanded)."""

    kind: str  # a key of SENDERS
    address: str
    label: str  # what reports call it: never the address, which may hold a token
    filters: tuple[EventFilter, ...]
    timeout: float = DEFAULT_TIMEOUT_S
    headers: tuple[tuple[str, str], ...] = ()

    def wants(self, event: str, payload: Payload) -> bool:
        return any(f.matches(event, payload) for f in self.filters)


@dataclass(frozen=True)
class Outcome:
    """What `gitexp notify test` reports for one target."""

    label: str
    ok: bool
    detail: str
    subscribed: bool  # whether the target hears the tested event in real runs


def parse_targets(value: Any) -> tuple[Target, ...]:
    """The `notify:` key: a list of entries (one entry alone is a list of one)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_target(item, number) for number, item in enumerate(items, 1))


def attach(bus: EventBus, targets: tuple[Target, ...], root: Path) -> None:
    """Subscribe each target to its events; matching events are queued for sending."""
    dispatcher = shared()
    for kind in dict.fromkeys(t.kind for t in targets):
        prepare(kind)
    for target in targets:
        hear = _listener(target, root.name, dispatcher)
        bus.subscribe(hear, matching.events_of(target.filters), label=target.label)


def deliver(
    target: Target, event: str, payload: Payload, project: str, limit: float, test: bool = False
) -> None:
    """Write the message and send it now; SendError with a scrubbed reason on failure."""
    message = render(event, payload, project)
    if test:
        message = replace(message, title="[test] " + message.title)
    found = secrets.Expanded()
    try:
        send = sender(target.kind)
        send(target.address, dict(target.headers), Outgoing(event, payload, message), found, limit)
    except Exception as exc:
        raise SendError(found.scrub(str(exc) or type(exc).__name__)) from None


def send_test(targets: tuple[Target, ...], root: Path, event: str) -> list[Outcome]:
    """A test message for ``event`` to every target at once; each one's outcome."""
    from gitexp.events.samples import sample

    _check_test(targets, event)
    payload = sample(event)
    outcomes: list[Outcome | None] = [None] * len(targets)

    def one(i: int, target: Target) -> None:
        subscribed = event in matching.events_of(target.filters)
        try:
            job = _job(target, event, payload, root.name, test=True)
            run_limited(job, target.timeout)
            outcomes[i] = Outcome(target.label, True, "sent", subscribed)
        except Exception as exc:
            outcomes[i] = Outcome(target.label, False, str(exc), subscribed)

    threads = [threading.Thread(target=one, args=it, daemon=True) for it in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [o for o in outcomes if o is not None]


def _check_test(targets: tuple[Target, ...], event: str) -> None:
    if event not in EVENTS:
        hint = suggest.hint(event, EVENTS, "did you mean `{}`?")
        raise UsageError(f"unknown event {event!r}", hint or "events: " + ", ".join(EVENTS))
    if not targets:
        raise ConfigError(
            "gitexp.yaml has no `notify:` entries to test",
            "add one, e.g. notify: ['json://localhost:8080/hook']",
        )


def _listener(target: Target, project: str, dispatcher: Dispatcher) -> Listener:
    key = f"notify:{target.label}:{target.address}"

    def hear(event: str, payload: Payload) -> None:
        if target.wants(event, payload):
            job = _job(target, event, payload, project)
            dispatcher.submit(key, Delivery(target.label, event, job, target.timeout))

    return hear


def _job(
    target: Target, event: str, payload: Payload, project: str, test: bool = False
) -> Callable[[float], None]:
    return lambda limit: deliver(target, event, payload, project, limit, test)


def _target(item: Any, number: int) -> Target:
    where = f"`notify` entry {number}"
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        raise ConfigError(f"gitexp.yaml: {where} must be a URL or a mapping with `url:`")
    _check_keys(item, where)
    kinds = [k for k in SENDERS if k in item]
    if len(kinds) != 1:
        raise ConfigError(f"gitexp.yaml: {where} needs exactly one of `url` or `webhook`")
    kind = kinds[0]
    address = _address(kind, item[kind], where)
    return Target(
        kind,
        address,
        _label(item.get("name"), kind, address, number, where),
        matching.parse_filters(item.get("events"), f"{where} `events`", matching.DEFAULT_NOTIFY),
        _timeout(item.get("timeout", DEFAULT_TIMEOUT_S), where),
        _headers(item.get("headers"), kind, where),
    )


def _check_keys(item: dict[str, Any], where: str) -> None:
    for key in item:
        if key not in ENTRY_KEYS:
            hint = suggest.hint(str(key), ENTRY_KEYS, "did you mean `{}`?")
            raise ConfigError(f"gitexp.yaml: {where}: unknown key `{key}`", hint)


def _address(kind: str, value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SCHEME.match(value.strip()):
        raise ConfigError(
            f"gitexp.yaml: {where}: `{kind}` must be a URL such as scheme://host/...",
            "an Apprise URL: https://github.com/caronc/apprise/wiki",
        )
    if kind == "webhook" and not value.strip().lower().startswith(("http://", "https://")):
        raise ConfigError(f"gitexp.yaml: {where}: a `webhook` is an http:// or https:// URL")
    return secrets.check(value.strip(), where)


def _label(name: Any, kind: str, address: str, number: int, where: str) -> str:
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"gitexp.yaml: {where}: `name` must be a short text")
    if name:
        return f"notify {name.strip()}"
    scheme = _SCHEME.match(address)
    return f"notify #{number} ({scheme[1] if scheme else kind})"


def _timeout(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 600:
        return float(value)
    raise ConfigError(f"gitexp.yaml: {where}: `timeout` must be seconds (0 to 600), got {value!r}")


def _headers(value: Any, kind: str, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if kind != "webhook":
        raise ConfigError(
            f"gitexp.yaml: {where}: `headers` go with a `webhook`",
            "Apprise's json:// takes headers in the URL: json://host/path?+X-Token=${TOKEN}",
        )
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"gitexp.yaml: {where}: `headers` must map names to strings")
    return tuple((k, secrets.check(v, f"{where} header {k}")) for k, v in value.items())
