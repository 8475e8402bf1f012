"""Relative posix paths (of a tree, a run dir, a ref): is one inside another?"""

from __future__ import annotations

from collections.abc import Iterable


def is_under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` itself or inside it: ``data`` holds ``data/x`` but not
    ``data2``. A trailing slash on ``prefix`` changes nothing."""
    top = prefix.rstrip("/")
    return path == top or path.startswith(top + "/")


def under_any(path: str, prefixes: Iterable[str]) -> bool:
    """``is_under`` one of ``prefixes``."""
    return any(is_under(path, p) for p in prefixes)
