"""One thin module per command group: parse, call the core once, render."""

from __future__ import annotations

from types import ModuleType

from gitexp.commands import artifacts, compare, hooks, init, manage, reproduce, run, show, sync

COMMAND_MODULES: tuple[ModuleType, ...] = (
    init,
    run,
    show,
    compare,
    manage,
    artifacts,
    sync,
    hooks,
    reproduce,
)
