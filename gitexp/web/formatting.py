"""How values read on a page: numbers, commits, times, sizes, diff lines (Jinja2 filters).

Each returns plain text; the templates escape it like any other value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from gitexp.common.numbers import number


def cell(value: Any) -> str:
    """A param or metric value: floats to 6 significant digits, structures as JSON."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else number(value)
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def short(sha: Any) -> str:
    return str(sha)[:12] if sha else "–"


def when(iso: Any) -> str:
    """``2025-01-02T03:04:05.678+00:00`` → ``2025-01-02 03:04:05``."""
    text = str(iso or "")
    return text[:19].replace("T", " ") if text else "–"


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def size(count: Any) -> str:
    if not isinstance(count, int | float):
        return "–"
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def diff_class(line: str) -> str:
    """The CSS class of a unified diff line."""
    if line.startswith(("+++", "---", "diff ", "index ")):
        return "meta"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "")


def command(argv: Any) -> str:
    """The argv as a shell line (quoted where needed)."""
    import shlex

    return shlex.join(str(a) for a in argv) if isinstance(argv, list) else str(argv or "")


FILTERS: dict[str, Callable[..., str]] = {
    "cell": cell,
    "short": short,
    "when": when,
    "duration": duration,
    "size": size,
    "diff_class": diff_class,
    "command": command,
}
