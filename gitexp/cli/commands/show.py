"""`gitexp show` (a table of experiments, or one in full) and `gitexp log NAME`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from gitexp.exploring import query as q
    from gitexp.exploring import readmodel as explore

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

    query = Query(tuple(filters), sort_by, _descending(order), only_changed, params, metrics, limit)
    return _table(query, baseline, fmt, wide, Listing(group, trials or group is not None))


@dataclass(frozen=True)
class Listing:
    """Which experiments the table lists: under a group (``NAME/``), trials folded or not."""

    group: str | None = None
    trials: bool = False


def _group(name: str) -> str | None:
    """``NAME/``, or a NAME that is no experiment but holds some: the group's prefix."""
    if name.endswith("/"):
        return name
    from gitexp.gitstore import store
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    if store.exists(repo, name):
        return None
    prefix = name + "/"
    return prefix if any(n.startswith(prefix) for n in store.ref_targets(repo)) else None


def _descending(order: bool | None) -> bool | None:
    return None if order is None else not order


def _table(query: q.Query, baseline: str | None, fmt: str, wide: bool, listing: Listing) -> int:
    from gitexp.exploring import readmodel as explore
    from gitexp.exploring.query import Query, run_query
    from gitexp.gitstore.repo import open_repo
    from gitexp.views import render as output
    from gitexp.views import terminal

    summaries = explore.list_summaries(open_repo(), baseline)
    if listing.group is not None:
        summaries = [s for s in summaries if s.name.startswith(listing.group)]
    items = _fold(summaries, query, listing)
    if fmt == "json" and query == Query(limit=query.limit, only_changed=query.only_changed):
        print(output.json_lines_array([_json_text(i) for i in items[: query.limit]]))
        return 0
    by_name = {i.name + ("/" if _is_group(i) else ""): i for i in items}
    columns, rows = run_query([i.row() for i in items], query, explore.FIXED_COLUMNS)
    if fmt == "json":
        print(output.json_lines_array([_json_text(by_name[r["name"]]) for r in rows]))
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
    sweeps = [r["name"] for r in rows if r.get("status", "").startswith("sweep, ")]
    if sweeps and fmt == "table":
        print(
            f"gitexp: {len(sweeps)} sweep(s) folded, each row showing its best trial; "
            f"list the trials with --trials or `gitexp show {sweeps[0]}`",
            file=sys.stderr,
        )
    return 0


def _fold(
    summaries: list[explore.ExperimentSummary], query: q.Query, listing: Listing
) -> list[Any]:
    """What the table lists, newest first: each sweep folded into one item where
    its newest trial is, unless trials are asked for (``--trials``, a ``NAME/``
    listing, or a filter on ``sweep``)."""
    import re

    from gitexp.exploring.sweep_groups import split

    wanted = listing.trials or any(re.match(r"\s*sweep\s*[=!<>~]", f) for f in query.filters)
    if wanted or all(s.sweep is None for s in summaries):
        return list(summaries)
    _, groups = split(summaries)
    by_sweep = {g.name: g for g in groups}
    items: list[Any] = []
    for s in summaries:
        if s.sweep is None:
            items.append(s)
        elif s.sweep in by_sweep:
            items.append(by_sweep.pop(s.sweep))
    return items


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
