"""Numbers as text, one rule everywhere a metric is shown (tables, commit messages,
notifications, the web UI, sweep summaries).

Metrics are recorded as floats, so a logged count comes back as 3000000.0:
a whole number is printed as an integer (``3000000``, never ``3e+06``), any
other float to a number of significant digits.
"""

from __future__ import annotations

WHOLE_LIMIT = 1e15  # whole floats below this are exact integers: printed as such


def number(value: float, digits: int = 6, sign: bool = False) -> str:
    """``value`` as text: whole numbers in full, others to ``digits`` significant digits."""
    plus = "+" if sign else ""
    if value.is_integer() and abs(value) < WHOLE_LIMIT:
        return f"{int(value):{plus}d}"
    return f"{value:{plus}.{digits}g}"
