"""Run code when a module finishes importing, without importing it ourselves.

``when_imported(name, callback)`` calls back at once when ``name`` is in
``sys.modules``, else when it is imported: a finder first on
``sys.meta_path`` asks the other finders for the spec and wraps its loader,
so the callback runs right after the module's code. The module's own
``__loader__`` and ``__spec__.loader`` are restored before its code runs
(``importlib.resources`` and friends see the real loader). A name watched
``with_submodules`` also calls back for every ``name.*`` module. A callback
that raises is reported by ``on_error`` and never breaks the import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

Callback = Callable[[ModuleType], None]


class _Watch:
    def __init__(self, name: str, callback: Callback, group: str, with_submodules: bool) -> None:
        self.name, self.callback, self.group = name, callback, group
        self.with_submodules = with_submodules

    def matches(self, fullname: str) -> bool:
        if fullname == self.name:
            return True
        return self.with_submodules and fullname.startswith(self.name + ".")


_watches: list[_Watch] = []
_lock = threading.RLock()
_errors: list[Callable[[str, BaseException], None]] = []


class _Finder(MetaPathFinder):
    """Hands out the real spec, its loader wrapped, for watched module names."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not any(w.matches(fullname) for w in _watches):
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


class _Loader(Loader):
    def __init__(self, loader: Loader) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        self.loader.exec_module(module)
        _fire(sys.modules.get(module.__name__, module))

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        if name == "loader":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.loader, name)


_finder = _Finder()


def when_imported(
    name: str, callback: Callback, *, group: str, with_submodules: bool = False
) -> None:
    """Call ``callback(module)`` once ``name`` is imported (now, if it already is);
    ``with_submodules``: also for every ``name.*`` module, loaded now or later."""
    watch = _Watch(name, callback, group, with_submodules)
    with _lock:
        loaded = [m for n, m in list(sys.modules.items()) if watch.matches(n) and m is not None]
        if with_submodules or not loaded:
            _watches.append(watch)
            if _finder not in sys.meta_path:
                sys.meta_path.insert(0, _finder)
    for module in sorted(loaded, key=lambda m: m.__name__):
        _call(watch, module)


def forget(group: str) -> None:
    """Drop a group's watches; the finder leaves ``sys.meta_path`` with the last one."""
    with _lock:
        _watches[:] = [w for w in _watches if w.group != group]
        if not _watches and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)


def on_error(report: Callable[[str, BaseException], None]) -> None:
    """Who hears about a callback that raised (the module name and the error)."""
    _errors[:] = [report]


def _fire(module: ModuleType) -> None:
    with _lock:
        due = [w for w in _watches if w.matches(module.__name__)]
        _watches[:] = [w for w in _watches if w.with_submodules or w not in due]
    for watch in due:
        _call(watch, module)


def _call(watch: _Watch, module: ModuleType) -> None:
    try:
        watch.callback(module)
    except Exception as exc:  # a hook must never break the script's import
        for report in _errors:
            report(module.__name__, exc)
