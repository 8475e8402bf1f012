"""The one place that renders tables, JSON, CSV and Markdown (and sparklines).

tabulate is imported only when a table is drawn: `--format json` over many
experiments should not pay for it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from gitexp.common.numbers import number as number
from gitexp.views.safetext import visible

FORMATS = ("table", "json", "csv", "md")
MISSING = "-"
MAX_CELL = 32
MIN_CELL = 6  # the narrowest a cut column gets: "0.123…", "2024-…"
ELLIPSIS = "…"
FOLD_LABEL = "constant: "
KEEP = ("name",)  # never folded into the constant line, never cut
# when a run happened is never "constant": runs of one second would fold it, by chance
UNFOLDED = ("created",)
_BARS = "▁▂▃▄▅▆▇█"


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    from gitexp.common.errors import UsageError

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
    """A value as table text: whole numbers in full, other floats to 6 significant
    digits, control characters written out (views/safetext.py), long text cut."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = number(value)
    elif isinstance(value, list | dict):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = visible(str(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    width: int | None = None,
    wide: bool = False,
) -> tuple[str, int]:
    """Text of a table in ``fmt`` (table, csv or md) and how many columns were left
    out. A table with a ``width`` is fitted to it (see `fit_table`); without one,
    cells are cut at MAX_CELL characters, unless ``wide``."""
    headers = [visible(h) for h in headers]  # metric and param names are data too
    if fmt == "csv":
        return _csv(headers, rows), 0
    if fmt == "table" and width is not None and not wide:
        return fit_table(headers, rows, width)
    limit = MAX_CELL if fmt == "table" and not wide else None
    cells = [[cell(v, limit) for v in row] for row in rows]
    from tabulate import tabulate

    text = tabulate(
        cells,
        headers=list(headers),
        tablefmt="github" if fmt == "md" else "simple",
        disable_numparse=True,
    )
    return text, 0


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def fit_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int, keep: Sequence[str] = KEEP
) -> tuple[str, int]:
    """A table for a terminal ``width`` characters wide, and how many columns did not fit.

    Columns equal in every row (but those in ``keep``) move to a ``constant:``
    line above the table, so the table shows what differs; then the widest
    columns are cut with an ellipsis until the rest fits. Trailing columns are
    left out only when even columns MIN_CELL wide do not fit."""
    full = [[cell(v, None) for v in row] for row in rows]
    folded, names, kept = fold_constant([visible(h) for h in headers], full, keep)
    cells = [[cut(c, MAX_CELL) for c in row] for row in kept]
    widths = column_widths(names, cells, width, keep)
    lines = _fold_lines(folded, width)
    lines += _simple(names[: len(widths)], cells, widths)
    return "\n".join(lines), len(names) - len(widths)


def fold_constant(
    headers: list[str], cells: list[list[str]], keep: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str], list[list[str]]]:
    """(header, value) of the columns equal in every row (two rows or more), and
    the headers and cells of the others."""
    if len(cells) < 2:
        return [], headers, cells
    same = {
        i
        for i, h in enumerate(headers)
        if h not in keep and h not in UNFOLDED and len({r[i] for r in cells}) == 1
    }
    rest = [i for i in range(len(headers)) if i not in same]
    folded = [(headers[i], cells[0][i]) for i in sorted(same)]
    return folded, [headers[i] for i in rest], [[r[i] for i in rest] for r in cells]


def column_widths(
    headers: Sequence[str], cells: Sequence[Sequence[str]], width: int, keep: Sequence[str]
) -> list[int]:
    """Widths of the leading columns that fit in ``width`` (at least one column)."""
    heads = [len(h) for h in headers]
    contents = [max((len(r[i]) for r in cells), default=0) for i in range(len(headers))]
    fixed = [h in keep for h in headers]
    for shown in range(len(headers), 0, -1):
        budget = width - 2 * (shown - 1)
        widths = _shrink(heads[:shown], contents[:shown], fixed[:shown], budget)
        if widths is not None:
            return widths
    return [min(max(heads[0], contents[0]), width)] if headers else []


def _shrink(
    heads: list[int], contents: list[int], fixed: list[bool], budget: int
) -> list[int] | None:
    """Column widths within ``budget``: first headers longer than their cells are
    cut (``…depth`` over a column of digits), then the widest cells, down to
    MIN_CELL; None when that is still too wide."""
    top = max([*heads, *contents, MIN_CELL])
    caps = [(h, top) for h in range(top, MIN_CELL - 1, -1)]
    caps += [(MIN_CELL, c) for c in range(top - 1, MIN_CELL - 1, -1)]
    for cap_head, cap_cell in caps:
        widths = [
            max(h, c) if f else max(min(h, cap_head), min(c, cap_cell))
            for h, c, f in zip(heads, contents, fixed, strict=True)
        ]
        if sum(widths) <= budget:
            return widths
    return None


def _fold_lines(items: Sequence[tuple[str, str]], width: int) -> list[str]:
    """``constant: a=1  b=2``, wrapped under the label to fit ``width``."""
    indent = " " * len(FOLD_LABEL)
    room = max(width - len(indent), MIN_CELL)
    groups: list[list[str]] = []
    for key, value in items:
        item = cut(f"{key}={cut(value, MAX_CELL)}", room)
        if not groups or len("  ".join([*groups[-1], item])) > room:
            groups.append([])
        groups[-1].append(item)
    return [(indent if i else FOLD_LABEL) + "  ".join(g) for i, g in enumerate(groups)]


def _simple(headers: Sequence[str], cells: Sequence[Sequence[str]], widths: list[int]) -> list[str]:
    """Lines of a plain table (tabulate's "simple" look) with exact column widths."""

    def line(parts: Sequence[str]) -> str:
        # rows may hold more cells than there are widths: columns left out
        pairs = zip(parts, widths, strict=False)
        return "  ".join(cut(p, w).ljust(w) for p, w in pairs).rstrip()

    rule = "  ".join("-" * w for w in widths)
    heads = [cut_key(h, w) for h, w in zip(headers, widths, strict=True)]
    return [line(heads), rule, *(line(row) for row in cells)]


def cut_key(key: str, width: int) -> str:
    """A dotted key in ``width`` characters, its groups shortened to initials
    first (``m.max_depth``, ``v.loss`` and ``t.loss``): the leaf tells columns
    of one group apart, the initials columns of different groups."""
    if len(key) <= width:
        return key
    parts = re.split(r"([./])", key)
    short = "".join(p[:1] if i % 2 == 0 else p for i, p in enumerate(parts[:-1])) + parts[-1]
    return cut(short, width)


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
    """Columns of the terminal stdout is, or None when it is piped (no limit).

    ``COLUMNS`` in the environment wins, tty or not, as in most CLIs: it is how
    a script (or a test) asks for a table of a given width."""
    import os
    import sys

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
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
        keys = [visible(str(k)) for k, _ in items]
        pad = max(len(k) for k in keys)
        lines = [
            f"  {k.ljust(pad)}  {cell(v, None)}" for k, (_, v) in zip(keys, items, strict=True)
        ]
        blocks.append("\n".join([visible(title), *lines]))
    return "\n\n".join(blocks)
