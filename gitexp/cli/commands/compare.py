"""`gitexp compare A B [C…]`: params and metrics side by side, deltas, code diff."""

from __future__ import annotations

import typer


def compare(
    names: list[str] = typer.Argument(..., help="Two or more experiments (name, prefix, ref, id)."),
    diff: bool = typer.Option(False, "--diff", help="Add the code diff against the first."),
    only_changed: bool = typer.Option(
        False, "--only-changed", help="Hide params/metrics equal in all."
    ),
    fmt: str = typer.Option("table", "--format", help="table, json, csv or md."),
) -> int:
    """Compare experiments: params and metrics side by side, deltas against the first."""
    from gitexp.common.errors import UsageError
    from gitexp.exploring import readmodel as explore
    from gitexp.gitstore.repo import open_repo
    from gitexp.views import render as output
    from gitexp.views import terminal

    output.check_format(fmt)
    if len(names) < 2:
        raise UsageError("compare needs at least two experiments", "gitexp compare A B [C…]")
    repo = open_repo()
    summaries = explore.get_summaries(repo, names)
    rows = explore.compare(summaries)
    if only_changed:
        rows = [r for r in rows if r.changed]
    diffs = explore.diffs_against_first(repo, summaries) if diff else None
    if fmt == "json":
        print(output.to_json(explore.compare_json(summaries, rows, diffs)))
        return 0
    headers, cells = terminal.compare_table(summaries, rows)
    print(output.render(headers, cells, fmt)[0])
    for name, patch in (diffs or {}).items():
        print(f"\ndiff {summaries[0].name} -> {name}\n" + (patch or "(no code changes)\n"), end="")
    return 0


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
