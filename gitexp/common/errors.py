"""One exception hierarchy; the CLI turns it into a one-line message and an exit code.

Exit codes: 0 ok, 1 failure, 2 usage error, 3 reproduced but metrics differ,
130 interrupted. Documented in docs/exit-codes.md.
"""

from __future__ import annotations

import re
from typing import Any

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_METRICS_DIFFER = 3
EXIT_INTERRUPTED = 130

_SIGNAL_NAMES = {2: "Ctrl-C (SIGINT)", 15: "SIGTERM"}


def signal_name(number: int) -> str:
    """A signal as people know it: Ctrl-C for SIGINT, else its SIG name."""
    import signal

    if number in _SIGNAL_NAMES:
        return _SIGNAL_NAMES[number]
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(code: int | None, status: str = "failed") -> str:
    """How a run ended, e.g. ``failed (exit code 3)``, ``failed (killed by SIGKILL)``,
    ``interrupted by Ctrl-C (SIGINT)``: a negative exit code is the signal that
    killed the process, which a bare ``-9`` hides."""
    if code is None or code == 0:
        return status
    if code > 0:
        return f"{status} (exit code {code})"
    if status == "interrupted":
        return f"{status} by {signal_name(-code)}"
    return f"{status} (killed by {signal_name(-code)})"


class GitexpError(Exception):
    """Base class: a message for the user and the exit code to leave with."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class UsageError(GitexpError):
    """The user asked for something that cannot work as written."""

    exit_code = EXIT_USAGE


class NotARepositoryError(UsageError):
    def __init__(self, path: str) -> None:
        super().__init__(f"not a git repository: {path}", "run `git init` or cd into a repository")


class NoCommitsError(UsageError):
    def __init__(self) -> None:
        super().__init__(
            "the repository has no commits yet",
            "make a first commit; experiments need a baseline commit",
        )


class ConfigError(UsageError):
    """gitexp.yaml (or a params file) cannot be read or is malformed."""


class ParamError(UsageError):
    """A -p override is malformed or names an unknown key."""


class ExperimentNameError(UsageError):
    """An experiment name is invalid, taken, unknown or ambiguous."""


class CommandNotFoundError(UsageError):
    def __init__(self, command: str, hint: str = "check the command and your PATH") -> None:
        super().__init__(f"command not found: {command!r}", hint)


class RunFailedError(GitexpError):
    """The experiment ran and was recorded, but its command failed."""

    def __init__(
        self, name: str, exit_code: int | None, status: str, why: str | None = None
    ) -> None:
        because = f": {why}" if why else ""
        super().__init__(
            f"experiment {name!r} {describe_exit(exit_code, status)}{because}; "
            f"recorded as refs/experiments/{name}"
        )
        self.status = status
        self.exit_code = EXIT_INTERRUPTED if status == "interrupted" else EXIT_FAILURE


class StoreError(GitexpError):
    """A ref could not be created or moved (concurrent change, D/F conflict)."""


class BackendError(GitexpError):
    """A backend (Docker, DVC, Ray) is missing or failed."""


class WorkspaceError(GitexpError):
    """A run directory could not be written or read back (a full disk, a bad run_root)."""


_NOT_WRITABLE = {30: "read-only file system", 13: "permission denied", 1: "permission denied"}
_QUOTED_PATH = re.compile(r"'(/[^']+)'")


def not_writable(exc: BaseException, only_git: bool = False) -> str | None:
    """One line for a write the file system refused (EROFS, EACCES), found in ``exc``,
    its message or what caused it, or None. libgit2 raises OSError without an errno,
    the reason only in its text; a write into ``.git`` says that the repository is
    read-only. ``only_git``: answer only for a path in ``.git`` (a GitexpError's own
    line says more about any other path)."""
    seen: BaseException | None = exc
    while seen is not None:
        errno = seen.errno if isinstance(seen, OSError) else None
        filename = seen.filename if isinstance(seen, OSError) else None
        found = _refused_write(str(seen), errno, filename, only_git)
        if found:
            return found
        seen = seen.__cause__ or seen.__context__
    return None


def _refused_write(text: str, errno: int | None, filename: Any, only_git: bool) -> str | None:
    reason = _NOT_WRITABLE.get(errno or 0) or next(
        (r for r in _NOT_WRITABLE.values() if r in text.lower()), None
    )
    if reason is None:
        return None
    quoted = _QUOTED_PATH.search(text)
    path = str(filename or (quoted[1] if quoted else "") or "")
    where = f": {path}" if path else ""
    if "/.git/" in path or path.endswith("/.git"):
        return (
            f"the repository's .git is not writable ({reason}){where} (hint: gitexp records "
            "experiments in .git: run where it is writable, e.g. in a clone)"
        )
    return None if only_git else f"{reason}{where}"
