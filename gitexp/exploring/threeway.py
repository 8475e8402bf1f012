"""`gitexp apply` of an experiment whose baseline is not HEAD: its changes, not its tree.

An experiment's tree is the whole workspace it ran in, so writing that tree
into a work tree that moved on since (commits after the baseline) would undo
those commits. Instead, apply takes the experiment's changes relative to its
baseline, file by file, and writes them onto the work tree:

- a file the experiment changed (added, modified, deleted, mode changed)
  gets the experiment's version, when HEAD still has the baseline's;
- a file the experiment did not change stays as it is;
- a file changed in the experiment *and* since the baseline on HEAD to
  something else is a conflict: the whole apply is refused, nothing is
  written (``--force`` takes the experiment's version). HEAD already holding
  the experiment's version is no conflict.

Files are compared by blob id and mode; no content is merged inside a file.
Pure data in, data out: the caller (exploring/apply.py) reads the trees and
writes the files.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from gitexp.common.errors import UsageError
from gitexp.common.paths import under_any

#: path -> (blob id, mode) of every file and symlink of a tree
Files = Mapping[str, Hashable]
SHOWN = 5  # conflicting paths named in the refusal


@dataclass(frozen=True)
class Changes:
    """What applying an experiment's changes does to the work tree."""

    write: list[str]  # the experiment's version goes into the work tree
    delete: list[str]  # the experiment deleted it and HEAD has it
    conflicts: list[str]  # changed both ways, differently


def changes(base: Files, exp: Files, head: Files, keep: Iterable[str] = ()) -> Changes:
    """The experiment's changes since ``base`` against HEAD; ``keep``: paths left alone
    (what the run linked in, like DVC data)."""
    kept = tuple(keep)
    changed = sorted(p for p in {*base, *exp} if base.get(p) != exp.get(p))
    changed = [p for p in changed if not under_any(p, kept)]
    conflicts = [p for p in changed if head.get(p) not in (base.get(p), exp.get(p))]
    write = [p for p in changed if p in exp]
    delete = [p for p in changed if p not in exp and p in head]
    return Changes(write, delete, conflicts)


def refuse(name: str, baseline: str, conflicts: list[str]) -> None:
    """One line naming up to five conflicting paths; nothing has been written."""
    if not conflicts:
        return
    listed = ", ".join(conflicts[:SHOWN]) + (", …" if len(conflicts) > SHOWN else "")
    raise UsageError(
        f"refusing to apply {name!r}: {len(conflicts)} file(s) changed both in the "
        f"experiment and since its baseline {baseline[:7]} ({listed}); nothing was written",
        f"`gitexp apply {name} --force` takes the experiment's version, "
        f"`gitexp branch {name} BRANCH` gives a branch at the experiment",
    )
