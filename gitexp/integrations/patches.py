"""Every attribute autolog replaced, so ``autolog(disable=True)`` can put it back.

A wrap never changes results: it calls the original with the same
arguments and returns what it returns; recording happens around the call,
and a recording error becomes one warning line (``record.warn``), never an
exception in the user's training.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MARK = "__gitexp_autolog__"  # set on every wrapper: never wrap a wrapper


@dataclass(frozen=True)
class Patch:
    owner: Any  # a class or a module
    name: str
    original: Any
    had_own: bool  # the name was in owner.__dict__ (else it was inherited)


_applied: list[Patch] = []
_lock = threading.Lock()


def wrap(
    owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> Callable[..., Any] | None:
    """Replace ``owner.name`` by ``make(original)`` and return the wrapper;
    None when it is absent or already wrapped."""
    original = getattr(owner, name, None)
    if original is None or getattr(original, MARK, False):
        return None
    wrapper = functools.wraps(original)(make(original))
    setattr(wrapper, MARK, True)
    with _lock:
        _applied.append(Patch(owner, name, original, name in vars(owner)))
        setattr(owner, name, wrapper)
    return wrapper


def replace_everywhere(modules: list[Any], name: str, original: Any, wrapper: Any) -> None:
    """Point every module that imported ``original`` as ``name`` at ``wrapper``
    (``xgboost.train``, ``xgboost.training.train``, ``xgboost.sklearn.train``)."""
    for module in modules:
        if module is not None and getattr(module, name, None) is original:
            with _lock:
                _applied.append(Patch(module, name, original, True))
                setattr(module, name, wrapper)


def wrapped(function: Any) -> bool:
    return bool(getattr(function, MARK, False))


def undo_all() -> int:
    """Restore every replaced attribute, newest first; the number restored."""
    with _lock:
        done = list(reversed(_applied))
        _applied.clear()
    for patch in done:
        if patch.had_own:
            setattr(patch.owner, patch.name, patch.original)
        else:
            try:
                delattr(patch.owner, patch.name)
            except AttributeError:
                pass
    return len(done)
