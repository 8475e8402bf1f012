"""Which params of an experiment were set on its command line (``-p``), for marking them.

run.json keeps the override texts as typed (``lr=0.1``, ``other.yaml:model.depth=6``,
``+note=x``) and sweeps as ``key=<json>``; the key is what precedes the first
``=``, less a ``file.yaml:`` prefix and a ``+``. A param is overridden when an
override names it or a group above it (``-p model={depth: 6}``).
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"^(?:[^=:]+\.(?:ya?ml|json):)?\+?(?P<key>[^=]+)=", re.DOTALL)


def overridden_keys(run: dict[str, Any]) -> list[str]:
    """The dotted keys the run's overrides set, in their order."""
    texts = run.get("overrides")
    keys: list[str] = []
    for text in texts if isinstance(texts, list) else []:
        match = _KEY.match(str(text))
        if match and match["key"] not in keys:
            keys.append(match["key"])
    return keys


def is_overridden(param: str, keys: list[str]) -> bool:
    """``param`` (a dotted key) is set by one of ``keys`` or lies below one."""
    return any(param == k or param.startswith(k + ".") for k in keys)
