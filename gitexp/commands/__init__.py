"""One thin module per command group: parse, call the core once, render."""

from __future__ import annotations

from types import ModuleType

from gitexp.commands import init, run, show

COMMAND_MODULES: tuple[ModuleType, ...] = (init, run, show)
