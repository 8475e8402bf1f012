"""The `gitexp` command: a Typer app and the one error handler.

Commands live in gitexp/commands/, one thin module per command group; each
has ``register(app)``. Core modules are imported inside commands so that
`gitexp --help` and the tracking library stay fast.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click
import typer

from gitexp.errors import EXIT_INTERRUPTED, EXIT_USAGE, GitexpError

EXIT_INTERNAL = 70  # an unexpected error: a bug in gitexp (sysexits EX_SOFTWARE)

app = typer.Typer(
    name="gitexp",
    help="Git-centric experiment tracking: every run is a commit on refs/experiments/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Git-centric experiment tracking: every run is a commit on refs/experiments/."""


def _register(argv: list[str]) -> None:
    from gitexp.commands import modules_for

    command = next((a for a in argv if not a.startswith("-")), None)
    for module in modules_for(command):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map every error to one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    _register(args)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="gitexp", standalone_mode=False)
    except GitexpError as exc:
        return _fail(f"error: {exc}", exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        return _fail(f"error: {exc.format_message()}", EXIT_USAGE)
    except click.ClickException as exc:
        return _fail(f"error: {exc.format_message()}", exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception:
        path = _crash_log()
        return _fail(f"internal error; traceback written to {path}", EXIT_INTERNAL)
    return int(result or 0)


def _fail(message: str, code: int) -> int:
    print(f"gitexp: {message}", file=sys.stderr)
    return code


def _crash_log() -> Path:
    path = Path.home() / ".cache" / "gitexp" / "crash.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(traceback.format_exc(), encoding="utf-8")
    except OSError:
        traceback.print_exc()
    return path


def run() -> None:
    sys.exit(main())
