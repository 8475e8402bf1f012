"""`gitexp compare A B [C…]`: params and metrics side by side, deltas, code diff."""

from __future__ import annotations

from typing import Any

import typer


def compare(
    names: list[str] = typer.Argument(..., help="Two or more experiments (name, prefix, ref, id)."),
    diff: bool = typer.Option(False, "--diff", help="Add the code diff against the first."),
    env: bool = typer.Option(
        False, "--env", help="Add the environment difference against the first."
    ),
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
    envs = _env_diffs(repo, summaries) if env else None
    if fmt == "json":
        data = explore.compare_json(summaries, rows, diffs)
        if envs is not None:
            data["environment_diff"] = {n: d.to_dict() for n, d in envs.items()}
        print(output.to_json(data))
        return 0
    headers, cells = terminal.compare_table(summaries, rows)
    print(output.render(headers, cells, fmt)[0])
    for name, patch in (diffs or {}).items():
        print(f"\ndiff {summaries[0].name} -> {name}\n" + (patch or "(no code changes)\n"), end="")
    for name, change in (envs or {}).items():
        lines = change.lines() or ["(no difference recorded)"]
        print(f"\nenvironment {summaries[0].name} -> {name}\n" + "\n".join(f"  {x}" for x in lines))
    return 0


def _env_diffs(repo: Any, summaries: list[Any]) -> dict[str, Any]:
    from gitexp.exploring import envdiff

    first = summaries[0].commit
    return {s.name: envdiff.between(repo, first, s.commit) for s in summaries[1:]}


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
