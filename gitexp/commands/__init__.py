"""One thin module per command group: parse, call the core once, render."""

from __future__ import annotations

from types import ModuleType

from gitexp.commands import init, run

COMMAND_MODULES: tuple[ModuleType, ...] = (init, run)
