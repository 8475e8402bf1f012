"""Reading the library's live metrics file fast: whole blocks into columns.

Ten million logged points make a 450 MB ``metrics.tsv`` (the format is in
gitexp/tracking/wire.py). Parsing it line by line costs microseconds a
point; here a block of whole lines is split once, and each column is
converted by C-level ``map(float, ...)``/``map(int, ...)`` over a slice, per
metric. A block this cannot take whole (a malformed line, a step that is not
an integer, more than ``MAX_GROUPS`` metrics interleaved) is parsed line by
line with ``wire.parse_line``, with the same result: malformed lines are
skipped, a line without its newline is unfinished. Fields stay bytes
(``float`` and ``int`` take them) until a metric's name is decoded.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from itertools import compress, pairwise
from operator import ne

from gitexp.tracking.wire import parse_line, parse_step

Number = int | float

BLOCK_BYTES = 1 << 20  # ~23,000 lines: parsing one holds ~6 MB
MAX_GROUPS = 16  # distinct metrics in a block handled column-wise


@dataclass
class Columns:
    """Points of one metric from one block, in file order; a step of None
    continues the series (``resolve_steps``)."""

    name: str
    steps: array[int] | list[Number | None]
    values: array[float]
    times: array[float]


def parse_block(data: bytes) -> list[Columns]:
    """Columns per metric (in order of first appearance) of whole lines."""
    lines = data.count(b"\n")
    fields = data.replace(b"\n", b"\t").split(b"\t")
    fields.pop()  # after the last newline
    if len(fields) != 4 * lines:
        return _slowly(data)
    names = fields[0::4]
    first = names[0] if names else b""
    if names.count(first) == len(names):
        groups = [(first, fields)]
    else:
        distinct = list(dict.fromkeys(names))
        if len(distinct) > MAX_GROUPS:
            return _slowly(data)
        groups = [(n, _select(fields, names, n)) for n in distinct]
    try:
        return [_columns(name.decode("utf-8", "replace"), f) for name, f in groups if name]
    except ValueError:  # a value or time that is not a number: find the bad lines
        return _slowly(data)


def _select(fields: list[bytes], names: list[bytes], name: bytes) -> list[bytes]:
    """The four fields of each of ``name``'s lines, flat, in order."""
    mask = [n == name for n in names]
    steps = list(compress(fields[1::4], mask))
    values = list(compress(fields[2::4], mask))
    times = list(compress(fields[3::4], mask))
    flat: list[bytes] = [b""] * (4 * len(steps))
    flat[1::4], flat[2::4], flat[3::4] = steps, values, times
    return flat


def _columns(name: str, fields: list[bytes]) -> Columns:
    """ValueError when a field is not a number (the block is then read line by line)."""
    values = array("d", map(float, fields[2::4]))
    return Columns(name, _steps(fields[1::4]), values, _times(fields[3::4]))


def _times(texts: list[bytes]) -> array[float]:
    """A flush writes one time on each of its lines: each run is parsed once."""
    n = len(texts)
    starts = [0, *compress(range(1, n), map(ne, texts[1:], texts[:-1])), n]
    if len(starts) > n // 4:  # mostly different times: parse each
        return array("d", map(float, texts))
    out = array("d")
    for a, b in pairwise(starts):
        out.extend(array("d", [float(texts[a])]) * (b - a))
    return out


def _steps(texts: list[bytes]) -> array[int] | list[Number | None]:
    if b"" not in texts:
        try:
            return array("q", map(int, texts))
        except (ValueError, OverflowError):
            pass
    return [parse_step(t.decode()) for t in texts]  # raises ValueError as parse_line would


def _slowly(data: bytes) -> list[Columns]:
    """Line by line: what ``parse_line`` accepts, in order, grouped by metric."""
    out: dict[str, Columns] = {}
    for line in data.decode("utf-8", "replace").splitlines(keepends=True):
        parsed = parse_line(line)
        if parsed is None:
            continue
        name, step, value, t = parsed
        if not name:
            continue
        cols = out.get(name) or out.setdefault(name, Columns(name, [], array("d"), array("d")))
        assert isinstance(cols.steps, list)
        cols.steps.append(step)
        cols.values.append(value)
        cols.times.append(t)
    return list(out.values())


def resolve_steps(
    steps: array[int] | list[Number | None], last: Number | None
) -> array[int] | list[Number]:
    """Steps with each None replaced by the step before it + 1 (``last``: the
    series' last step so far, None when it has none: the first step is 0)."""
    if isinstance(steps, array):
        return steps
    if steps.count(None) == len(steps) and not isinstance(last, float):
        start = 0 if last is None else last + 1
        try:
            return array("q", range(start, start + len(steps)))
        except OverflowError:
            pass
    out: list[Number] = []
    for step in steps:
        last = step if step is not None else (0 if last is None else last + 1)
        out.append(last)
    return out


def last_step(steps: array[int] | list[Number | None], last: Number | None) -> Number | None:
    """The step of the last of ``steps`` (see ``resolve_steps``), without the others."""
    for back, step in enumerate(reversed(steps)):
        if step is not None:
            return step + back
    return last if not steps else (len(steps) - 1 if last is None else last + len(steps))
