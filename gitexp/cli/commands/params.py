"""`gitexp params NAME [OTHER]`: an experiment's full params, or how two differ."""

from __future__ import annotations

import sys

import typer

FORMATS = ("yaml", "json")


def params(
    names: list[str] = typer.Argument(
        ..., help="One experiment (its params) or two (their difference)."
    ),
    fmt: str = typer.Option("yaml", "--format", help="yaml (a unified diff for two) or json."),
) -> int:
    """The full composed params of an experiment as YAML, or a unified diff of two."""
    from gitexp.common.errors import UsageError
    from gitexp.exploring import paramdiff
    from gitexp.gitstore.repo import open_repo
    from gitexp.views.render import to_json

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", "use --format yaml or --format json")
    if len(names) > 2:
        raise UsageError("params takes one experiment or two", "gitexp params A [B]")
    repo = open_repo()
    found = [paramdiff.params_of(repo, name) for name in names]
    if len(found) == 1:
        one = found[0]
        print(to_json(one.to_json()) if fmt == "json" else one.yaml().rstrip("\n"))
        return 0
    a, b = found
    if fmt == "json":
        changes = [c.to_json() for c in paramdiff.changes(a, b)]
        print(to_json({"a": a.to_json(), "b": b.to_json(), "changes": changes}))
        return 0
    patch = paramdiff.unified(a, b)
    if patch:
        print(patch, end="")
    else:
        print(f"gitexp: {a.name} and {b.name} have the same params", file=sys.stderr)
    return 0


def register(app: typer.Typer) -> None:
    app.command("params")(params)
