"""The `gitexp` command: a Typer app and the one error handler.

Commands live in gitexp/commands/, one thin module per command group; each
has ``register(app)``. Core modules are imported inside commands so that
`gitexp --help` and the tracking library stay fast.
"""

from __future__ import annotations

import errno
import itertools
import sys
import traceback
from pathlib import Path

import click
import typer

from gitexp.common.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    GitexpError,
    not_writable,
)

EXIT_INTERNAL = 70  # an unexpected error: a bug in gitexp (sysexits EX_SOFTWARE)
# a full or read-only disk is the machine's state, not a bug: one line, exit 1
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
VERSION_FLAG = "--version"

app = typer.Typer(
    name="gitexp",
    help="Git-centric experiment tracking: every run is a commit on refs/experiments/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from gitexp import __version__

        print(f"gitexp {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, VERSION_FLAG, is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """Git-centric experiment tracking: every run is a commit on refs/experiments/."""


def _register(argv: list[str]) -> None:
    """Load only the invoked command's module (none for --version: start-up counts)."""
    options = list(itertools.takewhile(lambda a: a.startswith("-"), argv))
    if VERSION_FLAG in options:
        return
    from gitexp.cli.commands import modules_for

    command = next((a for a in argv if not a.startswith("-")), None)
    for module in modules_for(command):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map every error to one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    _register(args)
    command = typer.main.get_command(app)
    try:
        # not command.main(): typer's main turns Ctrl-C into a silent exit code
        with command.make_context("gitexp", list(args)) as ctx:
            result = command.invoke(ctx)
        sys.stdout.flush()  # here, so a closed pipe is caught below, not at exit
    except BrokenPipeError:  # the reader stopped early (`| head`): what it read was right
        _quiet_stdout()
        return 0
    except GitexpError as exc:
        refused = not_writable(exc, only_git=True) if exc.exit_code == EXIT_FAILURE else None
        return _fail(f"error: {refused or exc}", exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `gitexp`: the help, exit 2
        text = exc.format_message()  # typer's rich help prints itself and leaves this empty
        if text:
            print(text, file=sys.stderr)
        return EXIT_USAGE
    except click.UsageError as exc:
        return _fail(f"error: {exc.format_message()}", EXIT_USAGE)
    except click.ClickException as exc:
        return _fail(f"error: {exc.format_message()}", exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        return _fail("interrupted", EXIT_INTERRUPTED)
    except OSError as exc:
        refused = not_writable(exc)  # a read-only .git, a folder of another user
        if refused:
            return _fail(f"error: {refused}", EXIT_FAILURE)
        if exc.errno not in DISK_ERRNOS:
            return _internal_error()
        return _fail(f"error: {disk_message(exc)}", EXIT_FAILURE)
    except Exception:
        return _internal_error()
    return int(result or 0)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail again."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def disk_message(exc: OSError) -> str:
    """``no space left on device: PATH (hint: ...)``: what filled up, and where."""
    import os

    reason = os.strerror(exc.errno or 0)
    reason = reason[:1].lower() + reason[1:]
    text = f"{reason}: {exc.filename}" if exc.filename else reason
    hint = _DISK_HINTS.get(exc.errno or 0)
    return f"{text} (hint: {hint})" if hint else text


_DISK_HINTS = {errno.EFBIG: "a file hit the size limit of this process; check `ulimit -f`"}


def _internal_error() -> int:
    """Exit 70 with where the traceback went, or, when it could go nowhere, its last line."""
    path = _crash_log()
    if path is not None:
        return _fail(f"internal error; traceback written to {path}", EXIT_INTERNAL)
    last = (traceback.format_exc().strip().splitlines() or ["?"])[-1]
    return _fail(f"internal error ({last}); no crash log could be written", EXIT_INTERNAL)


def _fail(message: str, code: int) -> int:
    """One line, whatever the message quotes: a pulled record's text or a remote's
    words may hold newlines and escape sequences (written out, never obeyed)."""
    from gitexp.views.safetext import visible

    print(f"gitexp: {visible(message)}", file=sys.stderr)
    return code


def _crash_log() -> Path | None:
    """Write the traceback to the cache (XDG_CACHE_HOME, else ~/.cache), else to a
    temp file; the path written, or None when nothing could be (never a path
    that was not written: HOME=/dev/null, a read-only HOME)."""
    text = traceback.format_exc()
    for path in _crash_log_places():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return _temp_crash_log(text)


def _crash_log_places() -> list[Path]:
    import os

    places = []
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is ignored
        places.append(Path(xdg) / "gitexp" / "crash.log")
    try:
        places.append(Path.home() / ".cache" / "gitexp" / "crash.log")
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        pass
    return places


def _temp_crash_log(text: str) -> Path | None:
    import os
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix="gitexp-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError:
        return None
    return Path(name)


def run() -> None:
    sys.exit(main())
