"""Values from experiments made safe for JSON.parse: browsers refuse NaN and Infinity.

A table cell keeps the word (``"nan"``, ``"inf"``, ``"-inf"``) so nothing is
hidden; a chart point becomes null, which plotly.js draws as a gap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def clean(value: Any) -> Any:
    """``value`` with every non-finite float written as its word, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def clean_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """``clean`` for a JSON object (what an API endpoint returns)."""
    return {str(k): clean(v) for k, v in value.items()}


def series(points: Iterable[tuple[Any, float, Any]]) -> dict[str, list[Any]]:
    """Points as columns for plotly.js: steps, values (null: not finite), times."""
    steps: list[Any] = []
    values: list[float | None] = []
    times: list[Any] = []
    for step, value, when in points:
        steps.append(step)
        values.append(value if math.isfinite(value) else None)
        times.append(when)
    return {"steps": steps, "values": values, "times": times}
