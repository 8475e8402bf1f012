"""The one place that renders tables, JSON, CSV and Markdown (and sparklines).

tabulate is imported only when a table is drawn: `--format json` over many
experiments should not pay for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "csv", "md")
MISSING = "-"
MAX_CELL = 32
_BARS = "▁▂▃▄▅▆▇█"


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    from gitexp.errors import UsageError

    if fmt not in allowed:
        raise UsageError(f"unknown format {fmt!r}", "use one of " + ", ".join(allowed))
    return fmt


def json_lines_array(items: Sequence[str]) -> str:
    """A JSON array from already-encoded objects, one per line."""
    return "[\n  " + ",\n  ".join(items) + "\n]" if items else "[]"


def to_json(value: Any) -> str:
    """Indented JSON; a list of objects gets one compact object per line, which is
    still readable and lets the C encoder do the work (10,000 rows in ~50 ms)."""
    if isinstance(value, list) and len(value) > 0:
        items = (json.dumps(v, default=str) for v in value)
        return "[\n  " + ",\n  ".join(items) + "\n]"
    return json.dumps(value, indent=2, default=str)


def cell(value: Any, limit: int | None = MAX_CELL) -> str:
    """A value as table text: floats to 6 significant digits, long text cut."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, list | dict):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    width: int | None = None,
) -> tuple[str, int]:
    """Text of a table in ``fmt`` (table, csv or md) and how many columns were left
    out to fit ``width`` (tables only; None = no limit)."""
    if fmt == "csv":
        return _csv(headers, rows), 0
    limit = MAX_CELL if fmt == "table" else None
    cells = [[cell(v, limit) for v in row] for row in rows]
    shown = len(headers) if width is None else fit(headers, cells, width)
    from tabulate import tabulate

    text = tabulate(
        [r[:shown] for r in cells],
        headers=list(headers[:shown]),
        tablefmt="github" if fmt == "md" else "simple",
        disable_numparse=True,
    )
    return text, len(headers) - shown


def fit(headers: Sequence[str], cells: Sequence[Sequence[str]], width: int) -> int:
    """How many leading columns fit in ``width`` characters (at least one)."""
    used = 0
    for i, header in enumerate(headers):
        col = max([len(header), *(len(r[i]) for r in cells)])
        used += col + (2 if i else 0)
        if used > width:
            return max(i, 1)
    return len(headers)


def _csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([["" if v is None else cell(v, None) for v in row] for row in rows])
    return buf.getvalue().rstrip("\n")


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """Unicode bars of a series, resampled to at most ``width`` points."""
    points = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    if not points:
        return ""
    if len(points) > width:
        step = len(points) / width
        points = [points[int(i * step)] for i in range(width - 1)] + [points[-1]]
    low, high = min(points), max(points)
    span = high - low
    if span == 0:
        return _BARS[len(_BARS) // 2] * len(points)
    return "".join(_BARS[int((v - low) / span * (len(_BARS) - 1))] for v in points)


def terminal_width() -> int | None:
    """Columns of the terminal stdout is, or None when it is piped (no limit)."""
    import os
    import sys

    if not sys.stdout.isatty():
        return None
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except OSError:
        return None


Section = tuple[str, list[tuple[str, Any]]]


def render_sections(sections: Sequence[Section]) -> str:
    """Titled blocks of `key  value` lines (one experiment in full)."""
    blocks = []
    for title, items in sections:
        if not items:
            continue
        pad = max(len(k) for k, _ in items)
        lines = [f"  {k.ljust(pad)}  {cell(v, None)}" for k, v in items]
        blocks.append("\n".join([title, *lines]))
    return "\n\n".join(blocks)
