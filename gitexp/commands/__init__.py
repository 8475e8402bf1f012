"""One thin module per command group: parse, call the core once, render."""

from __future__ import annotations

from types import ModuleType

from gitexp.commands import artifacts, compare, hooks, init, reproduce, run, show, sync

COMMAND_MODULES: tuple[ModuleType, ...] = (init, run, show, compare, artifacts, sync, hooks, reproduce)
