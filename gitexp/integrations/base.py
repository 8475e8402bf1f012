"""The contract of an autolog integration, and the guard every wrap shares.

An integration is a module-level object with:

- ``name``: the registry key and the params namespace (``xgboost.max_depth``);
- ``module``: the import name of its framework (enabled when it is imported);
- ``submodules``: whether ``enable`` is also called for every ``module.*``
  (scikit-learn: each estimator module as it loads), or once for ``module``;
- ``unsupported(framework)``: None, or why this version cannot be hooked
  (one warning line, the integration stays off);
- ``enable(module, options)``: install the hooks, through the framework's own
  callback mechanism where it has one, else ``patches.wrap`` (undone by
  ``autolog(disable=True)``). It must not import other frameworks.

Recording goes through ``record.py`` (the tracking library underneath), and
only the outermost autologged call records: ``outermost()`` makes a
GridSearchCV over XGBClassifier one record, not one per candidate. The
guard is process-wide (not per thread) because frameworks fit inner models
on worker threads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol


@dataclass(frozen=True)
class Options:
    """What ``gitexp.autolog`` was asked for, shared by every integration."""

    log_models: bool = True


class Integration(Protocol):
    name: str
    module: str
    submodules: bool

    def unsupported(self, framework: ModuleType) -> str | None: ...

    def enable(self, module: ModuleType, options: Options) -> None: ...


_owner: list[str] = []  # the autologged call in progress, outermost first
_lock = threading.Lock()


@contextmanager
def outermost(kind: str) -> Iterator[bool]:
    """True inside when this call is the outermost autologged one (it records)."""
    with _lock:
        mine = not _owner
        if mine:
            _owner.append(kind)
    try:
        yield mine
    finally:
        if mine:
            with _lock:
                _owner.clear()


def current_owner() -> str | None:
    """The kind of the outermost autologged call in progress, if any."""
    return _owner[0] if _owner else None


def version_below(framework: ModuleType, minimum: tuple[int, ...]) -> str | None:
    """``"xgboost 1.3.0 (needs >= 1.6)"`` when the framework is older, else None."""
    text = str(getattr(framework, "__version__", "0"))
    parts = []
    for piece in text.split(".")[: len(minimum)]:
        digits = "".join(itertools.takewhile(str.isdigit, piece))  # "0rc1" -> 0
        parts.append(int(digits) if digits else 0)
    if tuple(parts) >= minimum:
        return None
    needed = ".".join(str(n) for n in minimum)
    return f"{framework.__name__} {text} (needs >= {needed})"
