"""Experiments for people at a terminal: table cells and text sections.

The read model (gitexp/exploring) returns data; this module decides how it
reads: bare column names, short shas, times to the second, the exit status
in words, sparklines. ``render.py`` then draws the table or the sections.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from gitexp.common.errors import describe_exit
from gitexp.common.mappings import flatten
from gitexp.exploring.comparison import CompareRow
from gitexp.exploring.details import ExperimentDetail
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.views.render import Section, cell, number, sparkline
from gitexp.views.safetext import visible


def table(
    columns: list[str], rows: list[dict[str, Any]], best: bool = False
) -> tuple[list[str], list[list[Any]]]:
    """Headers and cells for people: bare param/metric names unless two collide,
    short baseline shas, creation time to the second; ``best``: a folded sweep's
    name cell names its best trial (``sw/ (best trial-0007)``)."""
    cells = [_cells(columns, _with_best(row) if best else row) for row in rows]
    return headers(columns), cells


def _with_best(row: dict[str, Any]) -> dict[str, Any]:
    """A folded sweep's row with its best trial in the name (the rest as it is)."""
    name, chosen = row.get("name"), row.get("best")
    if not (isinstance(name, str) and name.endswith("/") and isinstance(chosen, str)):
        return row
    return {**row, "name": f"{name} (best {chosen.removeprefix(name)})"}


def headers(columns: list[str]) -> list[str]:
    """Column names without their ``params.``/``metrics.`` prefix unless two collide;
    written out where a pulled experiment put control characters in one."""
    bare = [_bare(c) for c in columns]
    chosen = [b if bare.count(b) == 1 else c for b, c in zip(bare, columns, strict=True)]
    return [visible(h) for h in chosen]


def json_array(texts: Iterable[str], batch: int = 1000) -> Iterator[str]:
    """``render.json_lines_array`` in pieces, as the objects come: a listing of
    100,000 is written while it is read, never held whole."""
    first, pending = True, []
    for text in texts:
        pending.append(text)
        if len(pending) == batch:
            yield ("[\n  " if first else ",\n  ") + ",\n  ".join(pending)
            first, pending = False, []
    if pending:
        yield ("[\n  " if first else ",\n  ") + ",\n  ".join(pending)
        first = False
    yield "[]\n" if first else "\n]\n"


def csv_lines(
    columns: list[str], rows: Iterable[dict[str, Any]], batch: int = 1000
) -> Iterator[str]:
    """The CSV `render` writes for ``table(columns, rows)``, in pieces as rows come."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers(columns))
    for i, row in enumerate(rows, 1):
        writer.writerow(["" if v is None else cell(v, None) for v in _cells(columns, row)])
        if i % batch == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cells(columns: list[str], row: dict[str, Any]) -> list[Any]:
    return [_display(c, row.get(c)) for c in columns]


def _bare(column: str) -> str:
    for prefix in ("params.", "metrics."):
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def _display(column: str, value: Any) -> Any:
    if column in ("baseline", "commit") and isinstance(value, str):
        return value[:7]
    if column == "created" and isinstance(value, str):
        return value[:19].replace("T", " ")
    return value


def detail_sections(d: ExperimentDetail) -> list[Section]:
    """One experiment as titled sections of (label, value) for the text view."""
    s, run = d.summary, d.run
    overridden = {o.split("=", 1)[0].split(":")[-1].lstrip("+") for o in run.get("overrides", [])}
    params = [(k + (" *" if k in overridden else ""), v) for k, v in flatten(s.params).items()]
    artifacts = [(str(a.get("path", "?")), _artifact(a)) for a in run.get("artifacts", [])]
    return [
        (f"experiment {s.name}", _head(s, run, d.author)),
        ("params (* = overridden)" if overridden else "params", params),
        ("metrics", list(flatten(s.metrics).items())),
        ("history", _histories(d)),
        ("artifacts", artifacts),
        ("submodules", list(d.submodules)),
        ("environment", list(d.environment.items())),
    ]


def _head(s: ExperimentSummary, run: dict[str, Any], author: str) -> list[tuple[str, Any]]:
    duration = run.get("duration_s")
    head = [
        ("ref", s.ref),
        ("commit", s.commit),
        ("baseline", s.baseline),
        ("author", author or None),
        ("status", _exit(s.status, run)),
        ("error", _why(run)),
        ("command", _command(run.get("command"))),
        ("seed", s.seed),
        ("started", run.get("started")),
        ("ended", run.get("ended")),
        ("duration", f"{duration:.2f}s" if duration is not None else None),
        ("dirty workspace", run.get("dirty")),
    ]
    return [(k, v) for k, v in head if v is not None]


def _why(run: dict[str, Any]) -> str | None:
    """Why a run failed or was stopped, as recorded (a missing objective, a failed
    image build, a pruner's reason, a stage of recording that failed)."""
    reasons = [run.get("error"), *(run.get("record_errors") or [])]  # stop_reason: status
    text = "; ".join(str(r) for r in reasons if r)
    return text or None


def _histories(d: ExperimentDetail) -> list[tuple[str, Any]]:
    return [
        (
            h.name,
            f"{sparkline(h.values)}  steps={h.steps} first={number(h.first)} "
            f"last={number(h.last)} min={number(h.min)} max={number(h.max)}",
        )
        for h in d.histories
    ]


def _exit(status: str, run: dict[str, Any]) -> str:
    """How it ended; a run gitexp stopped (pruned, a stopped sweep) says why, not
    the signal it was stopped with."""
    if run.get("stop_reason"):
        return f"{status} ({run['stop_reason']})"
    code = run.get("exit_code")
    return describe_exit(code if isinstance(code, int) else None, status)


def _command(command: Any) -> str | None:
    if isinstance(command, list):
        import shlex

        return shlex.join(str(c) for c in command)
    return None if command is None else str(command)


def _artifact(a: dict[str, Any]) -> str:
    """Where it is stored (``git``: in the commit; else DVC), size and checksum."""
    keys = ("store", "size", "nfiles", "md5", "blob") if a.get("store") else ("size", "md5")
    parts = [f"{k}={a[k]}" for k in keys if a.get(k) is not None]
    return " ".join(parts) or "-"


def compare_table(
    summaries: list[ExperimentSummary], rows: list[CompareRow]
) -> tuple[list[str], list[list[Any]]]:
    """Headers and cells: identity rows, then params and metrics with (Δ) cells."""
    headers = ["", "", *(s.name for s in summaries)]
    cells: list[list[Any]] = [
        ["", "status", *(s.status for s in summaries)],
        ["", "baseline", *((s.baseline or "")[:7] for s in summaries)],
        ["", "commit", *(s.commit[:7] for s in summaries)],
    ]
    last_kind = ""
    for row in rows:
        kind = row.kind + "s" if row.kind != last_kind else ""
        last_kind = row.kind
        shown = [
            cell(v) + (f" ({number(d, 4, sign=True)})" if i and d else "")
            for i, (v, d) in enumerate(zip(row.values, row.deltas, strict=True))
        ]
        cells.append([kind, row.key, *shown])
    return headers, cells
