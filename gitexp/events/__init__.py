"""Lifecycle events: an in-process bus the runner publishes to, and what listens."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitexp.config.settings import Config
    from gitexp.events.bus import EventBus


def bus_for(config: Config, root: Path) -> EventBus:
    """A bus with the callbacks gitexp.yaml declares (an unloadable one is an error
    now, before anything runs)."""
    from gitexp.events.bus import EventBus
    from gitexp.events.callbacks import attach

    bus = EventBus()
    attach(bus, config.callbacks, root)
    return bus
