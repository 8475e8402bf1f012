"""Comparing a rerun's metrics with the record, and saying why a rerun failed.

A metric the record has and the rerun never produced is ``missing``, not a
different value: the rerun did not get as far, wrote its metrics file
elsewhere, or its `metrics:` file led out of the run directory. Calling that
nondeterminism would send the user after seeds that are not the problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gitexp.common.errors import signal_name
from gitexp.common.mappings import flatten

MISSING_HINT = (
    "the rerun did not produce them: read its output (--save keeps it) for a metrics "
    "file not written or a log_metric not reached"
)
_ERROR_CHARS = 300


@dataclass(frozen=True)
class Row:
    """One compared metric; ``missing`` when the rerun did not produce it."""

    metric: str
    recorded: Any
    reproduced: Any
    difference: float | None
    ok: bool
    missing: bool = False


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 0.0
    atol: float = 0.0

    def close(self, recorded: float, reproduced: float) -> bool:
        if math.isnan(recorded) or math.isnan(reproduced):
            return math.isnan(recorded) and math.isnan(reproduced)
        return abs(reproduced - recorded) <= self.atol + self.rtol * abs(recorded)


def compare(
    recorded: dict[str, Any],
    reproduced: dict[str, Any],
    tolerance: Tolerance,
    only: list[str] | None = None,
) -> list[Row]:
    """A row per recorded metric (or per ``only``): values, difference, within tolerance?"""
    old, new = flatten(recorded), flatten(reproduced)
    rows = []
    for metric in only or sorted(old):
        a, b = old.get(metric), new.get(metric)
        if metric not in new:
            rows.append(Row(metric, a, None, None, False, missing=True))
        elif (
            isinstance(a, int | float) and isinstance(b, int | float) and _number(a) and _number(b)
        ):
            rows.append(Row(metric, a, b, b - a, tolerance.close(a, b)))
        else:
            rows.append(Row(metric, a, b, None, a == b))
    return rows


def missing_line(rows: list[Row]) -> str | None:
    """``missing in the rerun: acc, loss`` with its hint, or None when none is missing."""
    names = [printable(row.metric) for row in rows if row.missing]
    if not names:
        return None
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"missing in the rerun: {shown} (hint: {MISSING_HINT})"


def failure(exit_code: int | None, error: Any, output: bytes | None) -> str | None:
    """Why a rerun failed, on one line: how it ended, then run.json's error or the
    last line it printed (``exit code 4: ValueError: bad input``)."""
    parts = [_ended(exit_code), str(error or "") or _last_line(output)]
    text = ": ".join(p for p in parts if p)
    if not text:
        return None
    text = printable(" ".join(text.split()))
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def printable(text: str) -> str:
    """Control characters written out (``\\x1b``): a rerun's output and a pulled
    record's names reach the terminal in these lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _ended(code: int | None) -> str:
    if not code:
        return ""
    return f"exit code {code}" if code > 0 else f"killed by {signal_name(-code)}"


def _last_line(output: bytes | None) -> str:
    lines = (output or b"").decode("utf-8", "replace").splitlines()
    printed = [line.strip() for line in lines if line.strip()]
    return printed[-1] if printed else ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
