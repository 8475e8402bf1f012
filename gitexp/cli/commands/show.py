"""`gitexp show` (a table of experiments, or one in full) and `gitexp log NAME`."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from gitexp.exploring import query as q
    from gitexp.exploring import readmodel as explore

FORMAT_HELP = "table, json, csv or md."


DEFAULT_LIMIT = 1000  # rows a table on a terminal shows unless --limit/--all say otherwise


def show(
    name: str = typer.Argument(None, help="Show this experiment in full instead of a table."),
    sort_by: str = typer.Option(None, "--sort-by", "-s", help="Param or metric to sort by."),
    order: bool = typer.Option(
        None, "--asc/--desc", help="Sort order (default: ascending with --sort-by, else newest)."
    ),
    filters: list[str] = typer.Option(
        [], "--filter", "-f", help="KEY OP VALUE, e.g. 'acc>0.9', 'status=failed' (repeatable)."
    ),
    only_changed: bool = typer.Option(
        False, "--only-changed", help="Hide params/metrics equal in every row."
    ),
    baseline: str = typer.Option(None, "--baseline", "-b", help="Only experiments of this rev."),
    limit: int = typer.Option(None, "--limit", "-n", min=0, help="Show at most N rows."),
    all_rows: bool = typer.Option(
        False,
        "--all",
        help=f"Every row (a table on a terminal shows the first {DEFAULT_LIMIT:,} by default).",
    ),
    params: str = typer.Option(None, "--params", help="Param columns: a,b (names, groups, globs)."),
    metrics: str = typer.Option(None, "--metrics", help="Metric columns: x,y."),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
    wide: bool = typer.Option(
        False, "--wide", help="Every column in full: no folding or cutting to the terminal."
    ),
    trials: bool = typer.Option(
        False, "--trials", help="List sweep trials too (default: one summary row per sweep)."
    ),
) -> int:
    """List experiments (params x metrics), or show one experiment in full.

    A NAME ending in `/` (or naming a group, such as a sweep) lists its experiments."""
    from gitexp.views.render import check_format

    check_format(fmt)
    group = _group(name) if name is not None else None
    if name is not None and group is None:
        return _detail(name, fmt)
    from gitexp.exploring.query import Query

    shown = _limit(limit, all_rows, fmt)
    query = Query(tuple(filters), sort_by, _descending(order), only_changed, params, metrics, shown)
    listing = Listing(group, trials or group is not None or _on_sweep(query))
    picked = fmt == "json" and (params is not None or metrics is not None)  # checked names
    if not filters and sort_by is None and baseline is None and not picked:
        return _stream(query, fmt, wide, listing)
    return _table(query, baseline, fmt, wide, listing)


@dataclass(frozen=True)
class Listing:
    """Which experiments the table lists: under a group (``NAME/``), trials folded or not."""

    group: str | None = None
    trials: bool = False


def _limit(limit: int | None, all_rows: bool, fmt: str) -> int | None:
    """The rows to show: --limit, everything with --all or when the output is not a
    person's terminal, else DEFAULT_LIMIT for a table (which says what it left out)."""
    if all_rows and limit is not None:
        from gitexp.common.errors import UsageError

        raise UsageError("--limit and --all do not go together")
    if limit is not None or all_rows or fmt not in ("table", "md") or not sys.stdout.isatty():
        return limit
    return DEFAULT_LIMIT


def _on_sweep(query: q.Query) -> bool:
    """A filter on ``sweep`` lists trials: folded, it would match nothing."""
    from gitexp.exploring.sweep_groups import filters_on_sweep

    return filters_on_sweep(query.filters)


def _group(name: str) -> str | None:
    """``NAME/``, or a NAME that is no experiment but holds some: the group's prefix.
    Two lookups, whatever the number of experiments."""
    from gitexp.exploring.sweep_groups import check_group
    from gitexp.gitstore import store
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    if name.endswith("/"):
        check_group(repo, name)
        return name
    if store.exists(repo, name) or not store.is_group(repo, name):
        return None
    return name + "/"


def _descending(order: bool | None) -> bool | None:
    return None if order is None else not order


def _stream(query: q.Query, fmt: str, wide: bool, listing: Listing) -> int:
    """No filter, sort or baseline: rows come in the cache's order and only the shown
    ones are parsed (JSON: none); JSON and CSV are written as they are read."""
    from dataclasses import replace
    from itertools import islice

    from gitexp.exploring.streaming import Stream
    from gitexp.gitstore.repo import open_repo
    from gitexp.views import terminal

    rows = Stream(
        open_repo(), listing.group or "", not listing.trials, query.descending is not False
    )
    if fmt == "json":
        texts = (rows.json_text(i) for i in islice(rows, query.limit))
        return _write(terminal.json_array(texts))
    if fmt == "csv" and query.limit is None:
        return _stream_csv(rows, query)
    items = iter(rows)
    shown = [rows.row(i) for i in islice(items, query.limit)]
    more = sum(1 for _ in items)  # raw items: nothing parsed
    in_order = replace(query, descending=None, limit=None)  # the rows come in order
    return _render(in_order, shown, fmt, wide, (len(shown), more, len(rows)))


def _stream_csv(rows: Any, query: q.Query) -> int:
    """Every row as CSV in two passes (the header needs every column first), never
    all rows in memory."""
    from gitexp.exploring import readmodel as explore
    from gitexp.exploring.query import ColumnStats, choose_columns
    from gitexp.views import terminal

    stats = ColumnStats()
    for item in rows:
        stats.add(rows.row(item))
    chosen = choose_columns(stats.columns, query)
    chosen = stats.changed(chosen) if query.only_changed else chosen
    columns = [*explore.FIXED_COLUMNS, *chosen]
    return _write(terminal.csv_lines(columns, (rows.row(i) for i in rows)))


def _write(chunks: Iterable[str]) -> int:
    """Write as it is read; a reader that stops early (`| head`) ends it quietly."""
    import os

    try:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
    return 0


def _table(query: q.Query, baseline: str | None, fmt: str, wide: bool, listing: Listing) -> int:
    """Filters, a sort or a baseline: every row is parsed, then chosen."""
    from dataclasses import replace

    from gitexp.exploring import readmodel as explore
    from gitexp.exploring.query import counted_query
    from gitexp.gitstore.repo import open_repo
    from gitexp.views import render as output

    summaries = explore.list_summaries(open_repo(), baseline)
    if listing.group is not None:
        summaries = [s for s in summaries if s.name.startswith(listing.group)]
    items = _fold(summaries, listing)
    by_name = {i.name + ("/" if _is_group(i) else ""): i for i in items}
    columns, rows, matched = counted_query([i.row() for i in items], query, explore.FIXED_COLUMNS)
    if fmt == "json":
        print(output.json_lines_array([_json_text(by_name[r["name"]]) for r in rows]))
        return 0
    counts = (len(rows), matched - len(rows), len(summaries))
    return _render(replace(query, limit=None), rows, fmt, wide, counts, columns)


def _render(
    query: q.Query,
    rows: list[dict[str, Any]],
    fmt: str,
    wide: bool,
    counts: tuple[int, int, int],
    columns: list[str] | None = None,
) -> int:
    """A table, Markdown or CSV of ``rows``; ``counts``: (shown, left out by the
    limit, experiments listed at all), for the lines on stderr."""
    from gitexp.exploring import readmodel as explore
    from gitexp.exploring.query import run_query
    from gitexp.views import render as output
    from gitexp.views import terminal

    if columns is None:
        columns, rows = run_query(rows, query, explore.FIXED_COLUMNS)
    if not rows and fmt == "table":
        print(_nothing_shown(counts), file=sys.stderr)
        return 0
    headers, cells = terminal.table(columns, rows, best=fmt in ("table", "md"))
    width = None if wide else output.terminal_width()
    text, hidden = output.render(headers, cells, fmt, width, wide)
    print(text)
    if hidden:
        print(
            f"gitexp: {hidden} more columns; pick with --params/--metrics, or use --wide "
            "or --format csv",
            file=sys.stderr,
        )
    if counts[1] and fmt != "csv":
        print(
            f"gitexp: showing {counts[0]:,} of {counts[0] + counts[1]:,}; "
            "--all shows every one, --limit N the first N",
            file=sys.stderr,
        )
    _say_folded(rows, fmt)
    return 0


def _nothing_shown(counts: tuple[int, int, int]) -> str:
    """Why the table is empty: ``--limit 0`` left every match out, none matched, or
    there are none."""
    if counts[1]:
        return f"gitexp: showing 0 of {counts[1]:,}; --limit N shows the first N"
    if counts[2]:
        return "gitexp: no experiments match"
    return (
        "gitexp: no experiments yet (hint: `gitexp run` records one; "
        "`gitexp pull` fetches a remote's)"
    )


def _say_folded(rows: list[dict[str, Any]], fmt: str) -> None:
    sweeps = [r["name"] for r in rows if str(r.get("status", "")).startswith("sweep, ")]
    if sweeps and fmt == "table":
        from gitexp.views.safetext import visible  # a sweep's name comes from its run.json

        print(
            f"gitexp: {len(sweeps)} sweep(s) folded, each row showing its best trial; "
            f"list the trials with --trials or `gitexp show {visible(sweeps[0])}`",
            file=sys.stderr,
        )


def _fold(summaries: list[explore.ExperimentSummary], listing: Listing) -> list[Any]:
    """What the table lists, newest first: each sweep folded into one item where
    its newest trial is, unless trials are asked for (``--trials``, a ``NAME/``
    listing, or a filter on ``sweep``)."""
    from gitexp.exploring.sweep_groups import fold

    return list(summaries) if listing.trials else list(fold(summaries))


def _is_group(item: Any) -> bool:
    from gitexp.exploring.sweep_groups import SweepGroup

    return isinstance(item, SweepGroup)


def _json_text(item: Any) -> str:
    """An experiment's JSON line, or a folded sweep's."""
    if _is_group(item):
        import json

        return json.dumps(item.to_json(), default=str)
    return str(item.json_text())


def _detail(name: str, fmt: str) -> int:
    from gitexp.exploring import readmodel as explore
    from gitexp.gitstore.repo import open_repo
    from gitexp.views import render as output
    from gitexp.views import terminal

    d = explore.detail(open_repo(), name)
    if fmt == "json":
        print(output.to_json(d.to_json()))
    else:
        print(output.render_sections(terminal.detail_sections(d)))
    return 0


def log(
    name: str = typer.Argument(..., help="Experiment: name, unique prefix, ref or commit id."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> int:
    """One experiment in full: command, params, metrics, history, environment."""
    from gitexp.views.render import check_format

    check_format(fmt, ("table", "json"))
    return _detail(name, fmt)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("log")(log)
