"""`gitexp reproduce NAME`: re-run, compare metrics; exit 0 same, 3 differ, 1 rerun failed."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.common.errors import GitexpError
    from gitexp.sharing.reproduce import Reproduction


def reproduce(
    name: str = typer.Argument(..., help="Experiment name, prefix or commit."),
    rtol: float = typer.Option(0.0, "--rtol", min=0, help="Relative tolerance (default exact)."),
    atol: float = typer.Option(0.0, "--atol", min=0, help="Absolute tolerance (default exact)."),
    metrics: str = typer.Option(None, "--metrics", help="Compare only these: m1,m2."),
    save: bool = typer.Option(False, "--save", help="Keep the rerun as an experiment."),
    as_name: str = typer.Option(None, "--name", "-n", help="Name of the saved rerun."),
    fmt: str = typer.Option("table", "--format", help="table, json or md."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not echo the command's output."),
    trust: bool = typer.Option(
        False, "--trust", help="Grant the sandbox the experiment's gitexp.yaml asks for."
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Without recorded metrics, check only that it runs."
    ),
    repeat: int = typer.Option(
        1, "--repeat", min=1, help="Rerun N times: reruns that disagree mean nondeterminism."
    ),
) -> int:
    """Re-run an experiment's exact tree, command and seed; compare metrics with the record."""
    from gitexp.common.errors import GitexpError, UsageError
    from gitexp.gitstore.repo import open_repo
    from gitexp.sharing.reproduce import reproduce as run_reproduce
    from gitexp.sharing.reproduce_compare import Tolerance
    from gitexp.views.render import check_format

    check_format(fmt, ("table", "json", "md"))
    try:
        if as_name and not save:
            raise UsageError("--name names a saved rerun", "add --save")
        wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
        outcome = run_reproduce(
            open_repo(),
            name,
            Tolerance(rtol, atol),
            wanted,
            save=save,
            name=as_name,
            echo=not quiet and fmt != "json",
            trust=trust,
            allow_empty=allow_empty,
            repeat=repeat,
        )
    except GitexpError as exc:
        if fmt == "json":  # a CI step piping into `jq` still gets an object
            _json_error(name, exc)
        raise
    _warn(name, outcome)
    _render(outcome, fmt)
    return outcome.exit_code


def _json_error(name: str, exc: GitexpError) -> None:
    from gitexp.views.render import to_json

    error = {"name": name, "error": str(exc), "exit_code": exc.exit_code, "match": False}
    print(to_json({**error, "diagnosis": "error"}))


def _warn(name: str, outcome: Reproduction) -> None:
    for warning in outcome.warnings:
        print(f"gitexp: warning: {warning}", file=sys.stderr)
    if outcome.trusted:
        shown = ", ".join(outcome.trusted)
        print(f"gitexp: warning: --trust granted {name}: {shown}", file=sys.stderr)


def _render(outcome: Reproduction, fmt: str) -> None:
    from gitexp.views.render import to_json

    print(to_json(outcome.to_dict()) if fmt == "json" else _report(outcome, fmt))
    print(_verdict(outcome), file=sys.stderr)  # the one line a CI log ends with


def _report(outcome: Reproduction, fmt: str) -> str:
    from gitexp.views.reproduction import report

    return str(report(outcome, fmt))


def _verdict(outcome: Reproduction) -> str:
    """The views' verdict line; a metric missing in the rerun is said as such."""
    from gitexp.sharing.reproduce_compare import missing_line
    from gitexp.views.reproduction import verdict

    missing = missing_line(outcome.rows)
    if outcome.diagnosis != "missing" or missing is None:
        return str(verdict(outcome))
    saved = f"; saved as {outcome.saved_as}" if outcome.saved_as else ""
    return f"gitexp: {outcome.name}: metrics differ; {missing}{saved}"


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)
