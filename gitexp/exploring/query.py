"""Filter, sort and trim flat experiment rows (``params.*``/``metrics.*`` columns).

A key may be written in full (``metrics.val.acc``) or bare (``val.acc``,
``lr``, ``status``): a bare key is looked up as a fixed column, then a
metric, then a param, so the common case needs no prefix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gitexp.common import suggest
from gitexp.common.errors import UsageError

Row = dict[str, Any]
OPS = ("<=", ">=", "!=", "==", "=", "<", ">", "~")
# a key may hold spaces (`Mean squared error<3000`), or be quoted
_FILTER = re.compile(r"^\s*(?P<key>[^<>=!~]+?)\s*(?P<op><=|>=|!=|==|=|<|>|~)\s*(?P<value>.*?)\s*$")
_PREFIXES = ("", "metrics.", "params.")


@dataclass(frozen=True)
class Filter:
    """One ``KEY OP VALUE`` condition; a row missing KEY never matches."""

    key: str
    op: str
    value: str
    text: str

    def matches(self, row: Row) -> bool:
        actual = row.get(self.key)
        if actual is None:
            return False
        return _compare(actual, self.op, self.value)


def parse_filter(text: str) -> Filter:
    match = _FILTER.match(text)
    value = match["value"] if match else ""
    if (
        not match
        or value[:1] in ("<", ">", "=", "!", "~")
        or (value == "" and match["op"] not in ("=", "==", "!="))
    ):
        raise UsageError(
            f"bad filter {text!r}",
            "write KEY OP VALUE with OP one of " + " ".join(OPS) + ", e.g. 'val.acc>=0.9'",
        )
    if match["op"] == "~":
        try:
            re.compile(match["value"])
        except re.error as exc:
            raise UsageError(f"bad regular expression in filter {text!r}: {exc}") from exc
    return Filter(match["key"], match["op"], match["value"], text)


def resolve_key(key: str, columns: Iterable[str]) -> str:
    """The full column a key names; unknown keys get a did-you-mean error.

    A name with spaces can be written as printed (``Mean squared error``),
    quoted, or as its alias: lower case, every run of other characters an
    underscore (``mean_squared_error``).
    """
    known = set(columns)
    key = key.strip().strip("\"'")
    for prefix in _PREFIXES:
        if prefix + key in known:
            return prefix + key
    aliased = _by_alias(key, known)
    if aliased is not None:
        return aliased
    hint = suggest.hint(key, _short_names(known)) or "see the columns with `gitexp show`"
    raise UsageError(f"unknown column {key!r}", hint)


def _needs_alias(column: str) -> bool:
    return re.search(r"[^\w./-]", column) is not None


def alias(name: str) -> str:
    """``Mean squared error`` → ``mean_squared_error``: a name the shell leaves alone."""
    return re.sub(r"[^0-9a-z.]+", "_", name.lower()).strip("_")


def _by_alias(key: str, known: set[str]) -> str | None:
    """Only names that need one have an alias: ``c`` does not silently mean ``C``."""
    wanted = alias(key)
    for prefix in _PREFIXES:
        hits = sorted(
            c
            for c in known
            if c.startswith(prefix) and _needs_alias(c) and alias(c[len(prefix) :]) == wanted
        )
        if len(hits) == 1:
            return hits[0]
    return None


def _short_names(columns: Iterable[str]) -> set[str]:
    out = set()
    for col in columns:
        for prefix in ("metrics.", "params."):
            if col.startswith(prefix):
                col = col[len(prefix) :]
        out.add(col)
    return out


def all_columns(rows: Iterable[Row]) -> list[str]:
    """Every column of the rows, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def apply_filters(rows: list[Row], texts: Sequence[str], columns: Iterable[str]) -> list[Row]:
    """Rows matching every filter (the filters are checked before any row is)."""
    filters = [parse_filter(t) for t in texts]
    known = list(columns)
    filters = [Filter(resolve_key(f.key, known), f.op, f.value, f.text) for f in filters]
    return [row for row in rows if all(f.matches(row) for f in filters)]


def sort_rows(rows: list[Row], key: str, descending: bool = False) -> list[Row]:
    """Sort by a column; numbers before text, rows missing the column always last."""
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: _sort_key(r[key]), reverse=descending)
    return present + missing


def _sort_key(value: Any) -> tuple[int, float, str]:
    number = _number(value)
    if number is not None and not math.isnan(number):
        return (0, number, "")
    return (1, 0.0, _text(value))


def changed_columns(rows: Sequence[Row], columns: Iterable[str]) -> list[str]:
    """Columns whose values differ across rows (missing counts as a value)."""
    if len(rows) < 2:
        return list(columns)
    out = []
    for col in columns:
        values = {json.dumps(r.get(col), sort_keys=True, default=str) for r in rows}
        if len(values) > 1:
            out.append(col)
    return out


def select_columns(columns: Sequence[str], prefix: str, wanted: str | None) -> list[str]:
    """Columns under ``prefix`` chosen by a comma list of names, groups or globs."""
    mine = [c for c in columns if c.startswith(prefix)]
    if wanted is None:
        return mine
    from fnmatch import fnmatchcase

    picks = [w.strip() for w in wanted.split(",") if w.strip()]
    chosen: list[str] = []
    for pick in picks:
        full = prefix + pick
        hits = [c for c in mine if c == full or c.startswith(full + ".") or fnmatchcase(c, full)]
        hits = hits or [
            c for c in mine if _needs_alias(c) and alias(c[len(prefix) :]) == alias(pick)
        ]
        if not hits:
            raise UsageError(
                f"unknown {prefix.rstrip('.')[:-1]} {pick!r}", _did_you_mean(pick, mine, prefix)
            )
        chosen += [c for c in hits if c not in chosen]
    return chosen


def _did_you_mean(pick: str, columns: Sequence[str], prefix: str) -> str:
    names = [c[len(prefix) :] for c in columns]
    groups = {n.rsplit(".", i)[0] for n in names for i in range(1, n.count(".") + 1)}
    return suggest.hint(pick, [*names, *groups]) or "known: " + ", ".join(names[:10])


def _compare(actual: Any, op: str, expected: str) -> bool:
    """Numbers compare as numbers, everything else as text (ISO dates sort right)."""
    if op == "~":
        return re.search(expected, _text(actual)) is not None
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return _OPS[op](a, b)
    return _OPS[op](_text(actual), expected)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class Query:
    """What `gitexp show` asks of the rows: filters, order, columns, limit."""

    filters: tuple[str, ...] = ()
    sort_by: str | None = None
    descending: bool | None = None
    only_changed: bool = False
    params: str | None = None
    metrics: str | None = None
    limit: int | None = None


def run_query(rows: list[Row], query: Query, fixed: Sequence[str]) -> tuple[list[str], list[Row]]:
    """(columns to show, rows) after filtering, sorting, limiting and column choice.

    Rows come in newest first; with ``sort_by`` the order is ascending unless
    ``descending``."""
    columns, out, _ = counted_query(rows, query, fixed)
    return columns, out


def counted_query(
    rows: list[Row], query: Query, fixed: Sequence[str]
) -> tuple[list[str], list[Row], int]:
    """``run_query`` and how many rows matched before the limit cut them."""
    if not rows:
        return list(fixed), [], 0
    columns = all_columns(rows)
    out = apply_filters(rows, query.filters, columns) if query.filters else rows
    if query.sort_by:
        key = resolve_key(query.sort_by, columns)
        out = sort_rows(out, key, descending=bool(query.descending))
    elif query.descending is False:
        out = out[::-1]
    matched = len(out)
    if query.limit is not None:
        out = out[: query.limit]
    chosen = choose_columns(columns, query)
    if query.only_changed:
        chosen = changed_columns(out, chosen)
    return [*fixed, *chosen], out, matched


def choose_columns(columns: Sequence[str], query: Query) -> list[str]:
    """The param and metric columns ``--params``/``--metrics`` pick (all by default)."""
    chosen = select_columns(columns, "params.", query.params)
    return chosen + select_columns(columns, "metrics.", query.metrics)


class ColumnStats:
    """``all_columns`` and ``changed_columns`` of rows seen one at a time, so a
    streamed CSV knows its header without keeping the rows (a missing value
    counts as null, as in ``changed_columns``)."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.differ: set[str] = set()
        self.count = 0

    def add(self, row: Row) -> None:
        for key, value in row.items():
            text = json.dumps(value, sort_keys=True, default=str)
            known = self.first.setdefault(key, text if not self.count else "null")
            if known != text:
                self.differ.add(key)
        if len(row) < len(self.first):
            self.differ.update(k for k in self.first if k not in row and self.first[k] != "null")
        self.count += 1

    @property
    def columns(self) -> list[str]:
        return list(self.first)

    def changed(self, columns: Sequence[str]) -> list[str]:
        return list(columns) if self.count < 2 else [c for c in columns if c in self.differ]
