"""Plugins: installed packages that listen to run events through the ``gitexp.callbacks``
entry point group.

A package declares, in its pyproject.toml::

    [project.entry-points."gitexp.callbacks"]
    dashboard = "acme_gitexp.dashboard:on_event"

and ``on_event(event, payload)`` hears every run, sweep, push and model
event of every repository in that environment (gitexp/events/bus.py lists
them), like a ``callbacks:`` entry of gitexp.yaml but without one. An
``events`` attribute on the callable (a list of event names) narrows what
it hears: a plugin that listens to everything makes gitexp follow
``metric_logged`` live. It is called in the publisher's thread, so it
should be quick (hand slow work to a thread of its own). One that cannot
be loaded or that raises is one warning line and never stops a run.
``GITEXP_NO_PLUGINS=1`` turns them all off (to rule one out).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

from gitexp.events.bus import EventBus

GROUP = "gitexp.callbacks"
OFF_SWITCH = "GITEXP_NO_PLUGINS"
log = logging.getLogger(__name__)


def attach(bus: EventBus) -> None:
    """Subscribe every installed plugin (none when GITEXP_NO_PLUGINS is set)."""
    if os.environ.get(OFF_SWITCH, "") not in ("", "0"):
        return
    for label, listener in loaded():
        events = getattr(listener, "events", None)
        chosen = [str(e) for e in events] if isinstance(events, list | tuple) else None
        bus.subscribe(listener, chosen, label=label)


@functools.cache
def loaded() -> tuple[tuple[str, Any], ...]:
    """(label, listener) of the group's entry points, loaded once per process
    (a broken one warned about once)."""
    if not any_declared():
        return ()
    from importlib.metadata import entry_points

    found = ((f"plugin {e.name} ({e.value})", _load(e)) for e in entry_points(group=GROUP))
    return tuple((label, listener) for label, listener in found if listener is not None)


def any_declared() -> bool:
    """Whether an installed package's entry_points.txt names the group: a look at
    the files alone, some 5 ms where importlib.metadata takes 30-50 ms on every
    `gitexp run` (most environments have no plugin)."""
    marker = f"[{GROUP}]".encode()
    for folder in sys.path:
        try:
            entries = list(os.scandir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".dist-info", ".egg-info")) and marker in _read(entry.path):
                return True
    return False


def _read(folder: str) -> bytes:
    try:
        with open(os.path.join(folder, "entry_points.txt"), "rb") as f:
            return f.read()
    except OSError:
        return b""


def _load(entry: Any) -> Any:
    try:
        listener = entry.load()
    except Exception as exc:
        log.warning(
            "gitexp: warning: plugin %s (%s) cannot be loaded: %s: %s",
            entry.name, entry.value, type(exc).__name__, exc,
        )  # fmt: skip
        return None
    if not callable(listener):
        log.warning("gitexp: warning: plugin %s (%s) is not callable", entry.name, entry.value)
        return None
    return listener
