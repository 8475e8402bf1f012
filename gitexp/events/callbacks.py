"""Python callbacks declared in gitexp.yaml: ``callbacks: ["package.module:function"]``.

Each is called as ``function(event, payload)`` (gitexp/events/bus.py lists
the events and payloads) in the process that owns the run. The repository
root is importable, so a callback can live next to the training code
(``callbacks: ["tools.notify:on_event"]`` for ``tools/notify.py``). A
callback that cannot be imported is a configuration error before anything
runs; one that raises is reported in one line and never breaks or changes
the run.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitexp.common.errors import ConfigError
from gitexp.events.bus import EventBus, Listener

_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")


def parse_specs(value: Any) -> tuple[str, ...]:
    """The `callbacks:` key: a list of ``module:function`` strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("gitexp.yaml: `callbacks` must be a list of 'module:function'")
    for spec in value:
        if not _SPEC.match(spec):
            raise ConfigError(
                f"gitexp.yaml: callback {spec!r} is not 'module:function'",
                "e.g. callbacks: ['tools.hooks:on_event']",
            )
    return tuple(value)


def load(spec: str, root: Path) -> Listener:
    """Import ``module:function`` (the repository root first on the path)."""
    match = _SPEC.match(spec)
    if match is None:
        raise ConfigError(f"gitexp.yaml: callback {spec!r} is not 'module:function'")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        target: Any = importlib.import_module(match["module"])
        for part in match["attr"].split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise ConfigError(
            f"gitexp.yaml: cannot load callback {spec!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(target):
        raise ConfigError(f"gitexp.yaml: callback {spec!r} is not callable")
    listener: Callable[[str, dict[str, Any]], None] = target
    return listener


def attach(bus: EventBus, specs: tuple[str, ...], root: Path) -> None:
    """Subscribe every configured callback to every event."""
    for spec in specs:
        bus.subscribe(load(spec, root), label=f"callback {spec}")
