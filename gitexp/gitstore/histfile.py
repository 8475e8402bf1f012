"""The history format (format 2): how a metric's step series is stored in a commit.

Under ``.gitexp/history/``, one entry per metric, named after it (each
``/``-separated part %-escaped, ``.``/``..`` written ``_.``/``_..``):

- a short series (at most ``TSV_MAX_POINTS``) is ``<metric>.tsv``, as in
  format 1: a header, then ``step<TAB>value<TAB>time`` lines, readable with
  ``git show`` and small to diff;
- a long one is a folder ``<metric>.hist/`` with ``summary.json`` (count,
  first/last step, first/last/min/max value, a ~1,000-point downsample) and
  chunks ``000000.i8``, ``000001.i8``… of at most ``CHUNK_POINTS`` points:
  each a zlib stream of three columns (step, value, time), each column's
  little-endian 8-byte numbers byte-shuffled (every first byte, then every
  second byte…), which lets zlib see the slowly changing high bytes of a
  smooth series. The suffix is the step column's type: ``i8`` (int64) when
  every step of the chunk is an integer, else ``f8`` (float64). Values and
  times are float64; an unknown time is NaN.

docs/storage-format.md is the reference, with a numpy reader. This module
is stdlib only: numpy is not needed to write or read the format.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

FORMAT = 2
TSV = ".tsv"
FOLDER = ".hist"
SUMMARY = "summary.json"
TSV_MAX_POINTS = 10_000
CHUNK_POINTS = 1 << 18
LEVEL = 1  # zlib: on shuffled columns 6 saves ~3 % for 3x the time
CHUNK_NAME = re.compile(r"(\d{6,})\.(i8|f8)")
TYPECODES = {"i8": "q", "f8": "d"}

Step = int | float
Point = tuple[Step, float, float | None]  # step, value, unix time (None: unknown)


class FormatError(ValueError):
    """A history entry this version cannot read (corrupt, or from a newer format)."""


def metric_path(name: str) -> str:
    """A metric name as a safe relative path (slashes kept as folders)."""
    parts = [quote(p, safe="._-") or "_" for p in name.split("/")]
    return "/".join("_" + p if p in (".", "..") else p for p in parts)


def metric_name(path: str) -> str:
    """The metric a history path (without its ``.tsv``/``.hist`` suffix) stands for."""
    return "/".join(unquote(p[1:] if p in ("_.", "_..") else p) for p in path.split("/"))


def chunk_name(index: int, kind: str) -> str:
    return f"{index:06d}.{kind}"


def encode_chunk(steps: array[Any], values: array[float], times: array[float]) -> bytes:
    """One chunk file: zlib of the three byte-shuffled little-endian columns."""
    packer = zlib.compressobj(LEVEL)
    out = [packer.compress(_shuffle(_little(column))) for column in (steps, values, times)]
    return b"".join([*out, packer.flush()])


def decode_chunk(data: bytes, kind: str) -> tuple[array[Any], array[float], array[float]]:
    """(steps, values, times) of one chunk file; FormatError when it is not one."""
    if kind not in TYPECODES:
        raise FormatError(f"unknown step type {kind!r}")
    try:
        raw = zlib.decompress(data)
    except zlib.error as exc:
        raise FormatError(f"corrupt chunk: {exc}") from None
    if len(raw) % 24:
        raise FormatError(f"chunk of {len(raw)} bytes is not three 8-byte columns")
    third = len(raw) // 3
    codes = (TYPECODES[kind], "d", "d")
    steps, values, times = (
        _column(raw[i * third : (i + 1) * third], code) for i, code in enumerate(codes)
    )
    return steps, values, times


def _shuffle(raw: bytes) -> bytes:
    return b"".join(raw[k::8] for k in range(8))


def _column(planes: bytes, code: str) -> array[Any]:
    n = len(planes) // 8
    raw = bytearray(len(planes))
    for k in range(8):
        raw[k::8] = planes[k * n : (k + 1) * n]
    out = array(code)
    out.frombytes(bytes(raw))
    if sys.byteorder != "little":
        out.byteswap()
    return out


def _little(column: array[Any]) -> bytes:
    if sys.byteorder == "little":
        return column.tobytes()
    swapped = array(column.typecode, column)
    swapped.byteswap()
    return swapped.tobytes()


def chunk_files(names: Sequence[str]) -> list[tuple[str, str]]:
    """(file name, step type) of the chunks among a folder's entries, in order."""
    found = [(int(m.group(1)), n, m.group(2)) for n in names if (m := CHUNK_NAME.fullmatch(n))]
    return [(name, kind) for _, name, kind in sorted(found)]


def tsv_bytes(points: Sequence[Point]) -> bytes:
    """A short series as format 1's TSV: the step as logged, ``repr`` of the value."""
    lines = ["step\tvalue\ttime\n"]
    lines += [f"{s}\t{v!r}\t{'' if t is None else f'{t:.3f}'}\n" for s, v, t in points]
    return "".join(lines).encode()


def tsv_points(data: bytes) -> Iterator[Point]:
    """The points of a TSV history file, in file order; malformed lines skipped.
    Lines are decoded one at a time: a format-1 file may hold millions."""
    lines = iter(io.BytesIO(data))
    next(lines, None)  # the header
    for raw in lines:
        parts = raw.decode("utf-8", "replace").rstrip("\r\n").split("\t")
        try:
            step, value = _step(parts[0]), float(parts[1])
            when = float(parts[2]) if len(parts) > 2 and parts[2].strip() else None
        except (IndexError, ValueError):
            continue
        yield step, value, when


def _step(text: str) -> Step:
    try:
        return int(text)
    except ValueError:
        return float(text)


@dataclass(frozen=True)
class SeriesSummary:
    """What a chart or a table needs of a series without reading its points."""

    count: int
    first_step: Step | None = None
    last_step: Step | None = None
    first: float = math.nan
    last: float = math.nan
    min: float = math.nan  # NaN values left out; inf counts
    max: float = math.nan
    integral_steps: bool = True
    #: about 1,000 (step, value, time) points keeping the shape; finite values only
    downsample: list[Point] = field(default_factory=list)
    #: chunk files in order, with their number of points (stored summaries only)
    chunks: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "count": self.count,
            "first_step": self.first_step,
            "last_step": self.last_step,
            "first": self.first,
            "last": self.last,
            "min": self.min,
            "max": self.max,
            "step_type": "int" if self.integral_steps else "float",
            "chunks": [{"file": f, "points": n} for f, n in self.chunks],
            "downsample": {
                "step": [p[0] for p in self.downsample],
                "value": [p[1] for p in self.downsample],
                "time": [p[2] for p in self.downsample],
            },
        }
        return (json.dumps(data, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> SeriesSummary:
        """The stored summary; FormatError when it is not one this version reads."""
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT:
                raise FormatError(f"history format {raw.get('format')!r} (this gitexp reads 2)")
            down = raw["downsample"]
            return cls(
                count=int(raw["count"]),
                first_step=raw["first_step"],
                last_step=raw["last_step"],
                first=float(raw["first"]),
                last=float(raw["last"]),
                min=float(raw["min"]),
                max=float(raw["max"]),
                integral_steps=raw["step_type"] == "int",
                downsample=list(zip(down["step"], down["value"], down["time"], strict=True)),
                chunks=[(str(c["file"]), int(c["points"])) for c in raw["chunks"]],
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"unreadable summary: {exc}") from None
