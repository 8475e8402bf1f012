"""Lifecycle events: an in-process bus the runner publishes to, and what listens."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitexp.config.settings import Config
    from gitexp.events.bus import EventBus


def bus_for(config: Config, root: Path) -> EventBus:
    """A bus with the listeners of gitexp.yaml: callbacks (an unloadable one is an
    error now, before anything runs), installed plugins, notifications, shell hooks;
    and the registry requests a script made (gitexp/registry/runrequests.py).

    The listeners are read from the work tree's gitexp.yaml at ``root``, not from
    ``config`` when that is another one: a reproduced experiment runs with the
    config it recorded, and a pulled experiment must not choose what runs on this
    machine or where its data is sent. Notifications and hooks are imported only
    when configured: otherwise no module, no thread, no cost.
    """
    from gitexp.config.settings import load_config
    from gitexp.events import callbacks, plugins
    from gitexp.events.bus import EventBus
    from gitexp.registry import runrequests

    local = load_config(root)  # the usual case: the same as ``config`` (under 1 ms)
    bus = EventBus()
    callbacks.attach(bus, local.callbacks, root)
    plugins.attach(bus)
    runrequests.attach(bus, root)  # a script's registry calls (MLflow), done once recorded
    if local.notify:
        from gitexp.events import notify

        notify.attach(bus, local.notify, root)
    if local.hooks:
        from gitexp.events import shellhooks

        shellhooks.attach(bus, local.hooks, root)
    return bus
