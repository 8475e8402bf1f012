"""`gitexp show` (a table of experiments, or one in full) and `gitexp log NAME`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.exploring import query as q

FORMAT_HELP = "table, json, csv or md."


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
    params: str = typer.Option(None, "--params", help="Param columns: a,b (names, groups, globs)."),
    metrics: str = typer.Option(None, "--metrics", help="Metric columns: x,y."),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
    wide: bool = typer.Option(
        False, "--wide", help="Every column in full: no folding or cutting to the terminal."
    ),
) -> int:
    """List experiments (params x metrics), or show one experiment in full."""
    from gitexp.views.render import check_format

    check_format(fmt)
    if name is not None:
        return _detail(name, fmt)
    from gitexp.exploring.query import Query

    query = Query(tuple(filters), sort_by, _descending(order), only_changed, params, metrics, limit)
    return _table(query, baseline, fmt, wide)


def _descending(order: bool | None) -> bool | None:
    return None if order is None else not order


def _table(query: q.Query, baseline: str | None, fmt: str, wide: bool) -> int:
    from gitexp.exploring import readmodel as explore
    from gitexp.exploring.query import Query, run_query
    from gitexp.gitstore.repo import open_repo
    from gitexp.views import render as output
    from gitexp.views import terminal

    summaries = explore.list_summaries(open_repo(), baseline)
    if fmt == "json" and query == Query(limit=query.limit, only_changed=query.only_changed):
        print(output.json_lines_array([s.json_text() for s in summaries[: query.limit]]))
        return 0
    by_name = {s.name: s for s in summaries}
    columns, rows = run_query([s.row() for s in summaries], query, explore.FIXED_COLUMNS)
    if fmt == "json":
        print(output.json_lines_array([by_name[r["name"]].json_text() for r in rows]))
        return 0
    if not rows and fmt == "table":
        print("no experiments" + (" match" if summaries else " yet"), file=sys.stderr)
        return 0
    headers, cells = terminal.table(columns, rows)
    width = None if wide else output.terminal_width()
    text, hidden = output.render(headers, cells, fmt, width, wide)
    print(text)
    if hidden:
        print(
            f"gitexp: {hidden} more columns; pick with --params/--metrics, or use --wide "
            "or --format csv",
            file=sys.stderr,
        )
    return 0


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
