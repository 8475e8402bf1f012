"""One thin module per command group: parse, call the core once, render.

``COMMANDS`` maps each top-level command to its module so the CLI imports
only the module of the command being run (start-up time counts in every
`gitexp run`); help and unknown commands load them all.
"""

from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS: dict[str, str] = {
    "init": "init",
    "run": "run",
    "show": "show",
    "log": "show",
    "compare": "compare",
    "params": "params",
    "remove": "manage",
    "rename": "manage",
    "apply": "manage",
    "branch": "manage",
    "artifacts": "artifacts",
    "push": "sync",
    "pull": "sync",
    "hooks": "hooks",
    "reproduce": "reproduce",
    "gc": "gc",
    "sweep": "sweep",
    "queue": "queue",
    "model": "model",
    "ui": "ui",
    "notify": "notify",
}


def modules_for(command: str | None) -> list[ModuleType]:
    """The module defining ``command``, or every command module."""
    names = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module(f"gitexp.cli.commands.{name}") for name in names]
