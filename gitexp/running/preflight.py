"""The file a command runs, checked against the snapshot before a name is reserved.

A run executes the snapshot, never the work tree. A script that git ignores
(``.git/info/exclude`` holding ``*``, a ``scratch/`` rule) is on disk but not
in the snapshot, so ``python w.py`` would fail in the run directory after the
name was taken. ``check_script`` finds the file the command runs (``python
[options] SCRIPT``, ``bash SCRIPT``, ``./SCRIPT``, a notebook; not ``-m``
or ``-c``) and refuses, naming why it was left out, when it is in the work
tree but not in the snapshot. A file absent from the work tree too is left
alone: the command may create it, or a ``link:`` may bring it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitexp.common.errors import UsageError
from gitexp.common.layout import META_DIR
from gitexp.common.paths import is_under, under_any
from gitexp.gitstore import contents
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.status import ignore_rule
from gitexp.gitstore.trees import read_blob, symlink_on_path
from gitexp.running import notebooks

if TYPE_CHECKING:
    import pygit2

_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh"}
_PY_VALUED = {"-W", "-X", "--check-hash-based-pycs"}
_SH_VALUED = {"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}
_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<"}


class ScriptLeftOutError(UsageError):
    """The command's script is in the work tree but not in the snapshot it would run."""


def check_script(
    repo: Repo, tree: pygit2.Oid, argv: Sequence[str], cwd: str, links: tuple[str, ...] = ()
) -> None:
    """Refuse a script the snapshot left out (ignored by git, below .gitexp/, inside a
    repository of its own), naming why; anything else is left to the run."""
    script = script_of(argv)
    if script is None or os.path.isabs(script):
        return
    rel = os.path.normpath(os.path.join(cwd, script)).replace(os.sep, "/")
    if rel.startswith("../") or not (repo.root / rel).is_file():
        return
    try:
        if _in_run_dir(repo, tree, rel, links):
            return
    except MISSING_OBJECT:  # `git gc --prune=now` beside us: the run's own checks say so
        return
    why = _left_out(repo, rel)
    if why is not None:
        raise ScriptLeftOutError(
            f"{script} {why[0]}, so it is not in the snapshot the run executes "
            "(nothing was run or written)",
            why[1],
        )


def script_of(argv: Sequence[str]) -> str | None:
    """The file a command runs, as typed; None for a program from PATH, -m or -c."""
    if len(argv) == 3 and argv[:2] == ["/bin/sh", "-c"]:  # shell syntax: its first command
        argv = _first_command(argv[2])
    if not argv:
        return None
    program = os.path.basename(argv[0])
    if _PYTHON.fullmatch(program):
        return _operand(argv[1:], _PY_VALUED, stop="cm")
    if program in _SHELLS:
        return _operand(argv[1:], _SH_VALUED, stop="cs")
    return argv[0] if notebooks.is_notebook(argv) or "/" in argv[0] else None


def _first_command(line: str) -> list[str]:
    try:
        tokens = shlex.split(line)
    except ValueError:
        return []
    first = []
    for token in tokens:
        if token in _OPERATORS:
            break
        first.append(token)
    return [] if first[:1] == ["cd"] else first


def _operand(args: Sequence[str], valued: set[str], stop: str) -> str | None:
    """The first argument that is not an option (nor an option's value)."""
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            return next(rest, None)
        if arg in valued:
            next(rest, None)
        elif arg.startswith("--"):
            continue
        elif arg[:1] in "-+" and len(arg) > 1:
            takes = _cluster(arg[1:], valued, stop)
            if takes is None:
                return None  # `python -c CODE`, `python -m MODULE`, `bash -c LINE`
            if takes:
                next(rest, None)
        else:
            return None if arg == "-" else arg
    return None


def _cluster(letters: str, valued: set[str], stop: str) -> bool | None:
    """Short options run together (``-uB``, ``-Wignore``): None at one of ``stop``,
    else whether the next argument is the last option's value."""
    for i, letter in enumerate(letters):
        if letter in stop:
            return None
        if f"-{letter}" in valued:
            return i == len(letters) - 1
    return False


def _in_run_dir(repo: Repo, tree: pygit2.Oid, rel: str, links: tuple[str, ...]) -> bool:
    """Whether the run dir will hold ``rel``: a blob, a DVC input, a link, or below
    a symlink or a submodule the snapshot holds."""
    if read_blob(repo, tree, rel) is not None or read_blob(repo, tree, rel + ".dvc"):
        return True
    if under_any(rel, links) or symlink_on_path(repo, tree, rel):
        return True
    return under_any(rel, contents.foreign(repo, tree))


def _left_out(repo: Repo, rel: str) -> tuple[str, str] | None:
    """(why, hint) for a work-tree file the snapshot does not hold; None when unknown."""
    if is_under(rel, META_DIR):
        return f"is below {META_DIR}/, which gitexp keeps for its records", "move it elsewhere"
    nested = _nested_repository(repo, rel)
    if nested is not None:
        return (
            f"is inside {nested}/, a git repository of its own (not a submodule)",
            f"make it a submodule (git submodule add), or move the script out of {nested}/",
        )
    rule = ignore_rule(repo, rel)
    if rule is not None:
        return (
            f"is ignored by git ({rule})",
            f"`git add -f {shlex.quote(rel)}` puts it in every snapshot, or stop ignoring it",
        )
    return None


def _nested_repository(repo: Repo, rel: str) -> str | None:
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        folder = "/".join(parts[:i])
        if (repo.root / folder / ".git").exists():
            return folder
    return None
