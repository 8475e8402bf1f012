"""Sizes as people write them in gitexp.yaml and on the command line: ``5MB``, ``4 GiB``.

One parser for every option that takes a size (Ray's ``memory``, the
artifacts threshold could share it); binary units, as DVC and Docker read them.
"""

from __future__ import annotations

from typing import Any

_UNITS = {
    "": 1,
    "B": 1,
    "K": 2**10,
    "KB": 2**10,
    "M": 2**20,
    "MB": 2**20,
    "G": 2**30,
    "GB": 2**30,
    "T": 2**40,
    "TB": 2**40,
}


def parse_size(value: Any) -> int | None:
    """Bytes of ``value`` (an int, or text like ``512MB``, ``4g``, ``1.5 GiB``);
    None when it is not a size (the caller words the error)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    text = str(value).strip().upper().replace(" ", "").replace("IB", "B")
    digits = text.rstrip("KMGTB")
    unit = text[len(digits) :]
    if unit not in _UNITS:
        return None
    try:
        number = float(digits)
    except ValueError:
        return None
    return int(number * _UNITS[unit]) if number >= 0 else None
