"""Nested mappings: flatten to dotted keys, back again, and deep updates.

Params files, metrics, run records and tables all speak in dotted names
(``model.depth``) over nested dicts; these are the one set of rules for
going between the two, so a name means the same thing everywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; lists stay values, an empty mapping too."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of flatten; a key that is both a value and a prefix stays flat."""
    out: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: k.count(".")):
        node, parts = out, key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part, {}), dict):
                node = out
                parts = [key]
                break
            node = node.setdefault(part, {})
        node[parts[-1]] = flat[key]
    return out


def deep_update(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    """Merge ``src`` into ``dst`` key by key: mappings merge, anything else (a copy) wins."""
    for key, value in src.items():
        if isinstance(value, Mapping) and isinstance(dst.get(key), dict):
            deep_update(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)


def deep_merge(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One nested dict of all ``layers``, later ones winning per key (inputs untouched)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        deep_update(merged, layer)
    return merged
